"""Analytic state and parameter gradients equal autograd; layout, dtype and block structure."""

import pytest
import torch

import thermoep as te
from tests.problems import gaussian_problem

MODELS = [
    lambda: te.LayeredHopfield([4, 5, 3, 2], "tanh"),
    lambda: te.LayeredHopfield([4, 5, 3, 2], "hardsigmoid"),
    lambda: te.LayeredHopfield([4, 5, 3, 2], "sigmoid4"),
    lambda: te.PrototypicalHopfield([4, 5, 3, 2], "tanh"),
    lambda: te.PrototypicalHopfield([4, 5, 3, 2], "sigmoid4"),
    lambda: te.PrototypicalHopfield([4, 5, 3, 2], "hardsigmoid"),
    lambda: te.LayeredBoltzmann([4, 5, 3, 2]),
    lambda: gaussian_problem(4, 5)[0],
]


def _state(model, lead=(3,)):
    g = torch.Generator().manual_seed(0)
    # random states away from the hard-sigmoid kinks at 0 and 1
    return tuple(0.05 + 0.9 * torch.rand(*lead, n, generator=g, dtype=torch.float64)
                 for n in model.layer_sizes)


@pytest.mark.parametrize("make", MODELS)
def test_state_grad_matches_autograd(make, float64):
    model = make()
    x = torch.randn(3, model.sizes[0])
    s = tuple(t.requires_grad_() for t in _state(model))
    auto = torch.autograd.grad(model.energy(x, s).sum(), s)
    for a, b in zip(model.state_grad(x, s), auto, strict=True):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("make", MODELS)
def test_param_grad_matches_autograd(make, float64):
    model = make()
    x = torch.randn(3, model.sizes[0])
    s = _state(model, lead=(2, 3))  # two chains of a batch of 3
    w = torch.rand(2, 3)
    params = dict(model.named_parameters())
    auto = torch.autograd.grad((w * model.energy(x, s)).sum(), list(params.values()))
    analytic = model.param_grad(x, s, w)
    assert list(analytic) == list(params)  # named_parameters() order: the gradient layout
    for (k, _), a in zip(params.items(), auto, strict=True):
        torch.testing.assert_close(analytic[k], a)
    per_chain = model.param_grad(x, s, w, per_chain=True)
    for k, v in per_chain.items():
        assert v.shape == (2, *params[k].shape)
        torch.testing.assert_close(v.sum(0), analytic[k])


def test_parameter_layout_and_dtype(float64):
    net = te.LayeredHopfield([7, 5, 3])
    names = dict(net.named_parameters())
    assert list(names) == ["dense_x_s1.weight", "dense_s1_s2.weight", "bias_s1.bias",
                           "bias_s2.bias"]
    assert names["dense_x_s1.weight"].shape == (7, 5) and names["bias_s2.bias"].shape == (3,)
    assert net.weights[1] is names["dense_s1_s2.weight"]
    assert net.dtype == torch.float64
    assert net.energy(torch.randn(2, 7), net.init_state((2,))).dtype == torch.float64


def test_checkpoints_of_0_1_load_through_the_legacy_names(float64):
    net = te.LayeredHopfield([7, 5, 3])
    old = {f"weights.{i}": torch.randn_like(w) for i, w in enumerate(net.weights)}
    old.update({f"biases.{i}": torch.randn_like(b) for i, b in enumerate(net.biases)})
    net.load_state_dict(old)
    for i, w in enumerate(net.weights):
        torch.testing.assert_close(w.detach(), old[f"weights.{i}"])
    torch.testing.assert_close(net.biases[1].detach(), old["biases.1"])


def test_default_float32():
    net = te.LayeredHopfield([7, 5, 3])
    assert net.dtype == torch.float32


def test_blocks_are_conditionally_independent():
    bm = te.LayeredBoltzmann([3, 4, 5, 6, 2])
    assert bm.layer_blocks == ((0, 2), (1, 3))
    assert [[p.layer for p in block] for block in bm.blocks] == [[0, 2], [1, 3]]
    # layers in one block never share a weight matrix
    for block in bm.layer_blocks:
        for i in block:
            assert i + 1 not in block and i - 1 not in block


def test_hardsigmoid_projection_keeps_minimisers_in_box():
    net = te.LayeredHopfield([3, 4, 2], "hardsigmoid")
    unit = net.free_layers[0].unit
    assert unit.box == (0.0, 1.0)
    t = torch.tensor([-0.5, 0.3, 1.7])
    assert torch.equal(unit.project(t), torch.tensor([0.0, 0.3, 1.0]))


def test_input_drive_is_computed_once_per_batch():
    """The part of each field that depends on x alone (x W_1 + b_1) is cached by the batch's
    target without autograd, and recomputed with it (a differentiable relaxation)."""
    net = te.LayeredHopfield([4, 3, 2])
    x = torch.randn(5, 4)
    target = te.Target.of(net, te.SquaredError(), x, torch.tensor([0, 1, 0, 1, 1]))
    with torch.no_grad():
        d1 = target.constant_fields()
        assert target.at(0.5).constant_fields() is d1  # another phase of the batch: reused
        torch.testing.assert_close(d1[0], x @ net.weights[0] + net.biases[0])
        assert d1[1] is not None  # the output's bias
    d = target.constant_fields()  # with autograd: never cached, carries the graph
    assert d[0].requires_grad


@pytest.mark.parametrize("activation", ["tanh", "sigmoid4", "hardsigmoid"])
def test_prototypical_relaxation_reaches_sigma_of_field(activation, float64):
    """Its fixed points are s_l = σ(h_l) (Laborieux et al.'s dynamics) and stationary points of
    E (∂E/∂s = σ⁻¹(s) − h = 0); each η = 1 block step is an exact block minimisation, so E
    never increases along the relaxation."""
    torch.manual_seed(0)
    net = te.PrototypicalHopfield([6, 7, 5, 3], activation)
    x, y = torch.randn(4, 6), torch.randint(0, 3, (4,))
    cost = te.SquaredError()
    energies = []
    for steps in range(1, 8):
        s, _, _ = te.Relaxation(steps=steps).settle(net, cost, x, y, 0.0)
        energies.append(net.energy(x, s))
    for a, b in zip(energies, energies[1:], strict=False):
        assert (b <= a + 1e-12).all()
    s, residual, _ = te.Relaxation(steps=3000, tol=1e-12).settle(net, cost, x, y, 0.0)
    assert float(residual.max()) < 1e-12
    grads = net.state_grad(x, s)
    for i, t in enumerate(s):
        unit = net.free_layers[i].unit
        sigma = unit.project(unit.minimiser(net.field(x, s, i)))
        torch.testing.assert_close(t, sigma)
        if activation != "hardsigmoid":  # (pinned hard-sigmoid units have ∂E/∂s ≠ 0)
            torch.testing.assert_close(grads[i], torch.zeros_like(t))


def test_prototypical_smooth_units_refuse_langevin():
    net = te.PrototypicalHopfield([3, 4, 2], "tanh")
    with pytest.raises(TypeError, match="cannot respect"):
        te.Langevin(steps=2, burn_in=0).run(net, te.SquaredError(), torch.randn(2, 3),
                                            torch.tensor([0, 1]), 0.0)
    with pytest.raises(TypeError, match="cannot respect"):
        te.NUTS(steps=2, burn_in=0).run(net, te.SquaredError(), torch.randn(2, 3),
                                        torch.tensor([0, 1]), 0.0)

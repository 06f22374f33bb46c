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
    assert list(names) == ["weights.0", "weights.1", "biases.0", "biases.1"]
    assert names["weights.0"].shape == (7, 5) and names["biases.1"].shape == (3,)
    assert net.dtype == torch.float64
    assert net.energy(torch.randn(2, 7), net.init_state((2,))).dtype == torch.float64


def test_default_float32():
    net = te.LayeredHopfield([7, 5, 3])
    assert net.dtype == torch.float32


def test_blocks_are_conditionally_independent():
    bm = te.LayeredBoltzmann([3, 4, 5, 6, 2])
    assert bm.blocks == ((0, 2), (1, 3))
    # layers in one block never share a weight matrix
    for block in bm.blocks:
        for i in block:
            assert i + 1 not in block and i - 1 not in block


def test_hardsigmoid_projection_keeps_minimisers_in_box():
    net = te.LayeredHopfield([3, 4, 2], "hardsigmoid")
    assert net.state_bounds == (0.0, 1.0)
    t = torch.tensor([-0.5, 0.3, 1.7])
    assert torch.equal(net.project(0, t), torch.tensor([0.0, 0.3, 1.0]))


def test_input_drive_cache_follows_inputs_and_parameters():
    net = te.LayeredHopfield([4, 3, 2])
    with torch.no_grad():
        x = torch.randn(5, 4)
        d1 = net.input_drive(x)
        assert net.input_drive(x) is d1  # same batch, same weights: reused
        x2 = torch.randn(5, 4)
        torch.testing.assert_close(net.input_drive(x2), x2 @ net.weights[0] + net.biases[0])
        net.weights[0].add_(1.0)  # an optimizer step changes the version counter
        torch.testing.assert_close(net.input_drive(x2), x2 @ net.weights[0] + net.biases[0])
        x2.mul_(2.0)
        torch.testing.assert_close(net.input_drive(x2), x2 @ net.weights[0] + net.biases[0])
    d = net.input_drive(x2)  # with autograd: never cached, carries the graph
    assert d.requires_grad


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
    for i, t in enumerate(s):
        sigma = net.descent_step(i, t, None, net.layer_field(x, s, i), 1.0, None)
        torch.testing.assert_close(t, sigma)
        if activation != "hardsigmoid":  # (pinned hard-sigmoid units have ∂E/∂s ≠ 0)
            torch.testing.assert_close(net.layer_grad(x, s, i), torch.zeros_like(t))


def test_prototypical_smooth_units_refuse_langevin():
    net = te.PrototypicalHopfield([3, 4, 2], "tanh")
    with pytest.raises(TypeError, match="cannot respect"):
        te.Langevin(steps=2, burn_in=0).run(net, te.SquaredError(), torch.randn(2, 3),
                                            torch.tensor([0, 1]), 0.0)
    with pytest.raises(TypeError, match="cannot sample it"):
        te.NUTS(steps=2, burn_in=0).run(net, te.SquaredError(), torch.randn(2, 3),
                                        torch.tensor([0, 1]), 0.0)

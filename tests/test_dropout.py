"""Dropout inside the energy (``LayeredEnergy.scaled_units``, ``UnitDropout``).

Exact reference: when every sample shares the scales a_l, interacting through a_l ⊙ ρ(s_l) is
the same energy as the unscaled network with W'_l = diag(a_{l−1}) W_l diag(a_l), b'_l = a_l ⊙ b_l.
So every sampler must produce the same states from the same random numbers, and the gradients
must obey the chain rule ∂E/∂W_l = a_{l−1} a_lᵀ ⊙ ∂E'/∂W'_l, ∂E/∂b_l = a_l ⊙ ∂E'/∂b'_l.
"""

import pytest
import torch

import thermoep as te
from tests.problems import binary_problem, generator, hopfield_problem, observed_grad
from thermoep.config import RunConfig


def _scales(energy, seed, p=0.4):
    """Shared (batch-independent) inverted-dropout scales, shape [1, n_l]; output unscaled."""
    g = generator(seed)
    keep = 1 - p
    hidden = [(torch.rand(1, n, generator=g) < keep).to(energy.dtype) / keep
              for n in energy.layer_sizes[:-1]]
    for a in hidden:  # make sure something is dropped and something kept
        a[0, 0], a[0, -1] = 0.0, 1.0 / keep
    return (*hidden, None)


def _full(scales, energy):
    return [torch.ones(1, n, dtype=energy.dtype) if a is None else a
            for a, n in zip(scales, energy.layer_sizes, strict=True)]


def _equivalent(energy, scales):
    """The unscaled network with the scales folded into its weights and biases."""
    a = _full(scales, energy)
    args = (energy.activation,) if hasattr(energy, "activation") else ()
    twin = type(energy)(list(energy.sizes), *args)
    with torch.no_grad():
        for i in range(energy.num_layers):
            pre = torch.ones(energy.sizes[0], 1, dtype=energy.dtype) if i == 0 else a[i - 1].T
            twin.weights[i].copy_(pre * energy.weights[i] * a[i])
            twin.biases[i].copy_(energy.biases[i] * a[i][0])
    return twin


def _chain_rule(energy, scales, grads):
    a = _full(scales, energy)
    out = {}
    name = energy.legacy_names
    for i in range(energy.num_layers):
        pre = torch.ones(energy.sizes[0], 1, dtype=energy.dtype) if i == 0 else a[i - 1].T
        w, b = name[f"weights.{i}"], name[f"biases.{i}"]
        out[w] = pre * grads[w] * a[i]
        out[b] = grads[b] * a[i][0]
    return out


def _prototypical(sizes=(5, 6, 4, 3), seed=3):
    torch.manual_seed(seed)
    net = te.PrototypicalHopfield(list(sizes), "tanh")
    _, cost, x, y = hopfield_problem(sizes=sizes, seed=seed)
    return net, cost, x, y


CASES = {
    "hopfield-relax": (lambda: hopfield_problem(sizes=(5, 6, 4, 3), seed=2),
                       lambda: te.Relaxation(steps=400, step_size=0.5)),
    "prototypical-relax": (_prototypical, lambda: te.Relaxation(steps=400)),
    "hopfield-langevin": (lambda: hopfield_problem(sizes=(5, 6, 4, 3), seed=2),
                          lambda: te.Langevin(step_size=0.05, steps=40, burn_in=10,
                                              temperature=0.1, chains=3)),
    "boltzmann-gibbs": (lambda: binary_problem((3, 5, 4, 2), batch=3, seed=1),
                        lambda: te.Gibbs(sweeps=40, burn_in=10, chains=3, temperature=1.0)),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_scaled_units_equal_the_network_with_folded_weights(case, float64):
    make, make_sampler = CASES[case]
    net, cost, x, y = make()
    sampler = make_sampler()
    x, yt = te.samplers.base.prepare(net, cost, x, y)
    scales = _scales(net, seed=7)
    twin = _equivalent(net, scales)
    with net.scaled_units(scales):
        ph, grad = observed_grad(sampler, net, cost, x, yt, 0.3, generator=generator(11))
    ref, ref_grad = observed_grad(sampler, twin, cost, x, yt, 0.3, generator=generator(11))
    for s, r in zip(ph.state, ref.state, strict=True):
        torch.testing.assert_close(s, r, atol=1e-10, rtol=1e-10)
    expected = _chain_rule(net, scales, ref_grad)
    for k, v in grad.items():
        torch.testing.assert_close(v, expected[k], atol=1e-10, rtol=1e-10)
    assert net.unit_scales is None  # restored on leaving the block


@pytest.mark.parametrize("make", [lambda: hopfield_problem(sizes=(5, 6, 4, 3), seed=4),
                                  lambda: _prototypical(seed=4)], ids=["hopfield", "prototypical"])
def test_analytic_gradients_under_per_sample_scales_equal_autograd(make, float64):
    net, cost, x, y = make()
    scales = te.UnitDropout(0.5).sample(net, x.shape[0], generator(3))
    s = tuple(torch.empty(x.shape[0], n).uniform_(-0.8, 0.8, generator=generator(5 + i))
              .requires_grad_() for i, n in enumerate(net.layer_sizes))
    with net.scaled_units(scales):
        e = net.energy(x, s).sum()
        auto_s = torch.autograd.grad(e, s, retain_graph=True)
        auto_p = torch.autograd.grad(e, list(net.parameters()))
        with torch.no_grad():
            ana_s = net.state_grad(x, s)
            ana_p = net.param_grad(x, s)
    for a, b in zip(ana_s, auto_s, strict=True):
        torch.testing.assert_close(a, b)
    for (k, a), b in zip(ana_p.items(), auto_p, strict=True):
        torch.testing.assert_close(a, b, msg=k)


def test_centered_ep_under_a_mask_is_the_thinned_networks_gradient(float64):
    """Per mask, centered EP → BPTT of the thinned network with error ∝ β² (slope 2)."""
    net, cost, x, y = _prototypical(seed=5)
    scales = te.UnitDropout(0.3).sample(net, x.shape[0], generator(2))
    relax = te.Relaxation(steps=5000, tol=1e-13)
    with net.scaled_units(scales):
        ref = te.bptt_grad(net, cost, x, y, te.Relaxation(steps=800)).flat()
        errs = [float((te.Centered(relax, beta=b)(net, cost, x, y).flat() - ref).norm())
                for b in (0.02, 0.01, 0.005)]
        plain = te.bptt_grad(net, cost, x, y, te.Relaxation(steps=800)).flat()
    slopes = [torch.log2(torch.tensor(errs[i] / errs[i + 1])).item() for i in range(2)]
    assert slopes == pytest.approx([2.0, 2.0], abs=0.1)
    torch.testing.assert_close(plain, ref)  # the reference itself used the scales ...
    unscaled = te.bptt_grad(net, cost, x, y, te.Relaxation(steps=800)).flat()
    assert float((unscaled - ref).norm()) > 100 * errs[-1]  # ... which change the gradient


def test_dropped_units_decouple(float64):
    net, cost, x, y = _prototypical(seed=6)
    x, yt = te.samplers.base.prepare(net, cost, x, y)
    scales = te.UnitDropout(0.5).sample(net, x.shape[0], generator(1))
    relax = te.Relaxation(steps=400)
    with net.scaled_units(scales):
        ph = relax.run(net, cost, x, yt, 0.0)
        dropped = scales[0] == 0
        assert dropped.any() and (~dropped).any()
        assert float(ph.state[0][dropped].abs().max()) == 0.0  # σ(0) = 0 for tanh
    # the first sample alone: its dropped units' weights get no gradient
    with net.scaled_units(tuple(None if a is None else a[:1] for a in scales)):
        _, one = observed_grad(relax, net, cost, x[:1], yt[:1], 0.0)
    cols = dropped[0]
    assert float(one["dense_x_s1.weight"][:, cols].abs().max()) == 0.0
    assert float(one["dense_s1_s2.weight"][cols, :].abs().max()) == 0.0
    assert float(one["bias_s1.bias"][cols].abs().max()) == 0.0


def test_unit_dropout_masks():
    net, *_ = hopfield_problem(sizes=(5, 300, 200, 3))
    d = te.UnitDropout(0.25)
    a = d.sample(net, 50, generator(0))
    assert a[-1] is None and [t.shape for t in a[:-1]] == [(50, 300), (50, 200)]
    for t in a[:-1]:
        assert torch.unique(t).tolist() == pytest.approx([0.0, 1 / 0.75])
        kept = float((t > 0).to(torch.float64).mean())
        se = (0.75 * 0.25 / t.numel()) ** 0.5
        assert abs(kept - 0.75) < 5 * se
    b = d.sample(net, 50, generator(0))
    assert all(torch.equal(u, v) for u, v in zip(a[:-1], b[:-1], strict=True))
    assert te.UnitDropout(0.0).sample(net, 50, generator(0)) is None
    for bad in (-0.1, 1.0, 2.0):
        with pytest.raises(ValueError, match="dropout probability"):
            te.UnitDropout(bad)
    with pytest.raises(ValueError, match="one entry per free layer"):
        with net.scaled_units(a[:-1]):
            pass


def test_exact_enumeration_refuses_per_sample_scales(float64):
    bm, cost, x, y = binary_problem()
    with bm.scaled_units(te.UnitDropout(0.5).sample(bm, x.shape[0], generator(0))):
        with pytest.raises(ValueError, match="unit scales"):
            te.exact.probabilities(bm, cost, x, y)


def test_training_with_dropout_is_reproducible_and_evaluates_the_whole_network():
    from thermoep.experiment import run

    cfg = RunConfig.of(epochs=2, limit_train=200, limit_test=100, hidden=(16,), batch_size=50,
                      dropout=0.3)
    a, b = run(cfg, quiet=True), run(cfg, quiet=True)
    plain = run(RunConfig.of(epochs=2, limit_train=200, limit_test=100, hidden=(16,),
                            batch_size=50), quiet=True)
    assert a["train_loss"].values.tolist() == b["train_loss"].values.tolist()
    assert a["train_loss"].values.tolist() != plain["train_loss"].values.tolist()
    assert a.attrs["model.dropout"] == 0.3
    with pytest.raises(ValueError, match="dropout"):
        RunConfig.of(dropout=1.0).resolved()

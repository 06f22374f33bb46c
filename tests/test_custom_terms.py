"""Energies a researcher brings: a term defined by its energy alone, a Boltzmann machine with
lateral couplings, and what the samplers refuse.

1. ``Quartic`` (below) defines only ``energy()``; its field and parameter gradient come from
   the :class:`thermoep.Interaction` defaults (automatic differentiation). Added to a small tanh
   Hopfield network it must run through ``Relaxation`` and agree with ``implicit_grad`` (error
   slopes 1 and 2 in β for one-sided and centered EP; BPTT equal to the implicit gradient), and
   through MALA and ULA, whose finite-nudge and path-integral estimates must agree with a dense
   grid quadrature over every state of a three-unit network (5 standard errors over every entry).
2. A binary Boltzmann machine whose hidden layer carries a ``Lateral`` coupling (winner-take-all
   inhibition), built from ``te.LayeredBoltzmann``'s layers and terms plus the new term:
   ``te.exact`` must enumerate through the energy's own terms (checked against a brute-force
   sum written here from the formula), give the lateral weight its gradient, and ``te.Gibbs``
   must split the coupled layer into the blocks of its coupling graph (updating it at once is
   off by many standard errors).
3. A sampler that cannot handle an energy exactly refuses it with a TypeError that says why.
"""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from torch import nn

import thermoep as te
from tests.problems import generator, max_z
from tests.test_interactions import check_term
from thermoep.energies import BlockPart
from thermoep.observers import ConditionalSmoother, MeanParamGrad, Observer

Z = 5.0


class Quartic(te.Interaction):
    """E = ¼ λ Σ_i ρ_i⁴ on one layer, with a learnable strength λ: only the energy is given."""

    def __init__(self, layer: te.Layer, strength: float = 1.0) -> None:
        super().__init__(layer)
        self.nd = layer.ndim
        self.strength = nn.Parameter(torch.tensor(float(strength)))

    def energy(self, r):
        return 0.25 * self.strength * (r**4).flatten(r.dim() - self.nd).sum(-1)


def quartic_net(sizes=(3, 4, 2), seed=0, scale=None):
    """A tanh Hopfield net (Dense and Bias terms) with a Quartic on every free layer."""
    torch.manual_seed(seed)
    x, h, o = te.Input("x", sizes[0]), te.Layer("h", sizes[1], "tanh"), \
        te.Layer("o", sizes[2], "tanh")
    return te.Energy([x, h, o], [
        te.Dense(x, h, init_scale=scale), te.Bias(h, init_scale=0.5), Quartic(h),
        te.Dense(h, o, init_scale=scale), te.Bias(o, init_scale=0.5), Quartic(o),
    ])


# -- 1. a term defined by its energy alone --------------------------------------------------------


@pytest.mark.parametrize("lead", [(3,), (2, 3)])
def test_quartic_defaults_are_autograd(lead, float64):
    torch.manual_seed(0)
    for shape in ((4,), (2, 2, 3)):
        layer = te.Layer("h", shape, "tanh")
        check_term(Quartic(layer, 0.7), [layer], lead, None, seed=2)


def test_quartic_through_relaxation_matches_implicit_grad(float64):
    net = quartic_net(scale=1.0)
    assert [n for n, _ in net.named_parameters()] == [
        "dense_x_h.weight", "bias_h.bias", "quartic_h.strength", "dense_h_o.weight",
        "bias_o.bias", "quartic_o.strength"]
    g = generator(1)
    x, y = torch.randn(4, 3, generator=g), torch.randint(0, 2, (4,), generator=g)
    cost = te.SquaredError()
    relax = te.Relaxation(steps=5000, tol=1e-13)
    ref = te.implicit_grad(net, cost, x, y, relax)
    assert ref.stats["residual"] < 1e-13
    for k in ("quartic_h.strength", "quartic_o.strength"):
        assert abs(float(ref[k])) > 1e-3, k  # the new parameter has a gradient
    for estimator, order in ((te.OneSided, 1.0), (te.Centered, 2.0)):
        errs = [float((estimator(relax, beta=b)(net, cost, x, y).flat() - ref.flat()).norm())
                for b in (0.01, 0.005, 0.0025)]
        slopes = [math.log2(a / b) for a, b in zip(errs, errs[1:], strict=False)]
        assert all(abs(s - order) < 0.1 for s in slopes), (estimator.name, errs, slopes)
    # and the estimate itself carries the quartic strengths' gradient
    ep = te.Centered(relax, beta=0.0025)(net, cost, x, y)
    for k in ("quartic_h.strength", "quartic_o.strength"):
        torch.testing.assert_close(ep[k], ref[k], rtol=1e-4, atol=1e-9)
    bptt = te.bptt_grad(net, cost, x, y, relax)
    for k in ref:
        torch.testing.assert_close(bptt[k], ref[k], rtol=1e-8, atol=1e-10)


# a three-unit network (h: 2 units, o: 1 unit), integrated on a grid -------------------------------

T_GRID = 0.3


def _grid_problem():
    torch.manual_seed(3)
    x, h, o = te.Input("x", 2), te.Layer("h", 2, "tanh"), te.Layer("o", 1, "tanh")
    net = te.Energy([x, h, o], [
        te.Dense(x, h, init_scale=1.0), te.Bias(h, init_scale=0.5), Quartic(h),
        te.Dense(h, o, init_scale=1.0), te.Bias(o, init_scale=0.5), Quartic(o),
    ])
    xs = torch.tensor([[0.8, -0.5], [-1.0, 0.3]])
    ys = torch.tensor([[0.9], [-0.9]])
    return net, te.SquaredError(), xs, ys


def _grid_mean_grad(net, cost, x, y, b, n=61):
    """E_b[∂θE] (batch mean) by a grid over (h, o) ∈ [−4.5, 4.5]³ (the density is smooth and
    negligible at the edges, so the rule converges fast: 61 and 121 points agree to 1e-13).
    ∂θE by autograd of Σ p·E, independently of the terms' own param_grad."""
    u = torch.linspace(-4.5, 4.5, n)
    a, c, d = torch.meshgrid(u, u, u, indexing="ij")
    s1 = torch.stack([a.flatten(), c.flatten()], -1).unsqueeze(1).expand(-1, x.shape[0], 2)
    s2 = d.flatten().reshape(-1, 1, 1).expand(-1, x.shape[0], 1)
    with torch.no_grad():
        U = net.energy(x, (s1, s2)) + b * cost.value(s2, y)  # [K, B]
        p = torch.softmax(-U / T_GRID, dim=0)
    params = dict(net.named_parameters())
    grads = torch.autograd.grad((p * net.energy(x, (s1, s2))).sum() / x.shape[0],
                                list(params.values()))
    return dict(zip(params, grads, strict=True))


@pytest.fixture(scope="module")
def grid_reference():
    """E_b[∂θE] for b = 0 and 1 on the grid."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        net, cost, x, y = _grid_problem()
        return {b: _grid_mean_grad(net, cost, x, y, b) for b in (0.0, 1.0)}
    finally:
        torch.set_default_dtype(old)


def _entries(grads):
    return torch.cat([v.flatten() for v in grads.values()])


@pytest.mark.parametrize("case", ["mala-finite-nudge", "mala-path-integral", "ula-finite-nudge"])
def test_quartic_through_langevin_matches_grid(case, grid_reference, float64):
    """∇L_β (β = 1) against the grid, and for the finite nudge each phase's E_b[∂θE] too: the
    phase means are what a wrong field (ULA samples the wrong law) or a wrong parameter
    gradient shows up in first. (MALA stays exact under a wrong field: the Metropolis test
    uses the energy, the field only shapes the proposal.)"""
    net, cost, x, y = _grid_problem()
    mala = case.startswith("mala")
    sampler = te.Langevin(step_size=0.15 if mala else 0.05, steps=1200, burn_in=200,
                          temperature=T_GRID, metropolis=mala, chains=32, thin=10)
    est = (te.PathIntegral(sampler, 1.0, nodes=3) if case.endswith("path-integral")
           else te.FiniteNudge(sampler, 1.0))
    g = est(net, cost, x, y, generator=generator(5))
    if mala:
        assert g.stats["free_acceptance"] > 0.5
    ref = {k: grid_reference[1.0][k] - grid_reference[0.0][k] for k in grid_reference[0.0]}
    assert max_z(g, ref) < Z
    # not vacuous: the standard errors are well below the gradient, the quartic strengths' too
    se = _entries(g.stats["se"])
    assert float(se.median()) < 0.5 * float(_entries(ref).abs().median())
    if mala:
        for k in ("quartic_h.strength", "quartic_o.strength"):
            assert float(g.stats["se"][k]) < 0.25 * abs(float(ref[k])), k
    if case.endswith("finite-nudge"):
        for b, phase in g.phases.items():
            stat = phase["param_grad"]
            for k, v in stat.mean.items():
                se_k = stat.chains[k].std(0) / math.sqrt(stat.chains[k].shape[0])
                z = float(((v - grid_reference[b][k]).abs() / se_k.clamp_min(1e-12)).max())
                assert z < Z, (b, k, z)


def test_gibbs_refuses_a_term_it_cannot_see_inside():
    """A term defined by its energy alone does not say it is linear in each unit, so block
    Gibbs cannot draw from its conditional law."""
    net = quartic_net()
    with pytest.raises(TypeError, match="quartic_h.*not linear in each unit"):
        te.Gibbs(sweeps=3, burn_in=1, temperature=0.1).run(
            net, te.SquaredError(), torch.randn(2, 3), torch.tensor([0, 1]))


# -- 2. a Boltzmann machine with lateral couplings -------------------------------------------------


def lateral_boltzmann(seed=0):
    """``te.LayeredBoltzmann([3, 4, 3])`` plus lateral inhibition within its hidden layer.

    An energy takes its terms when it is built (there is no public call that adds a term to a
    constructed energy, and LayeredBoltzmann's constructor builds its own), so the new energy
    is ``te.Energy`` over the machine's layers and terms plus the Lateral; it shares their
    parameters."""
    torch.manual_seed(seed)
    bm = te.LayeredBoltzmann([3, 4, 3], init_scale=1.0)
    lateral = te.Lateral(bm.free_layers[0])
    terms = {key: term for key, term, _ in bm.terms()}
    terms["lateral_s1"] = lateral
    energy = te.Energy(bm.all_layers, terms)
    with torch.no_grad():  # J_ij ≈ −1.7 between every pair, hidden units pushed on
        w = -2.0 + 0.5 * torch.rand(4, 4, generator=generator(seed))
        lateral.parametrizations.weight.original.copy_(0.5 * (w + w.T))
        bm.biases[0].copy_(torch.tensor([1.5, 1.0, 2.0, 1.2]))
    g = generator(seed + 1)
    x = torch.randint(0, 2, (3, 3), generator=g).to(torch.get_default_dtype())
    y = torch.randint(0, 3, (3,), generator=g)
    return bm, energy, te.SquaredError(), x, y


def _brute_force_probabilities(bm, J, x, y, nudge, T):
    """p_b(h, o | x) for every configuration, from the formula
    E = −xᵀW₁h − ½hᵀJh − b₁ᵀh − hᵀW₂o − b₂ᵀo, ℓ = ½‖o − onehot(y)‖²: {config: [B]}."""
    W1, W2 = (w.detach() for w in bm.weights)
    b1, b2 = (b.detach() for b in bm.biases)
    target = torch.nn.functional.one_hot(y, 3).to(x.dtype)
    weights = {}
    for bits in itertools.product((0.0, 1.0), repeat=7):
        h, o = torch.tensor(bits[:4]), torch.tensor(bits[4:])
        E = -(x @ W1 @ h) - 0.5 * (h @ J @ h) - b1 @ h - h @ W2 @ o - b2 @ o
        ell = 0.5 * ((o - target) ** 2).sum(-1)
        weights[bits] = torch.exp(-(E + nudge * ell) / T)
    total = sum(weights.values())
    return {k: v / total for k, v in weights.items()}


@pytest.mark.parametrize("nudge", [0.0, 0.7])
def test_exact_enumerates_the_lateral_term(nudge, float64):
    bm, energy, cost, x, y = lateral_boltzmann()
    J = energy.lateral_s1.weight.detach()
    ref = _brute_force_probabilities(bm, J, x, y, nudge, 1.0)
    p = te.exact.probabilities(energy, cost, x, y, nudge, 1.0)
    h, o = te.exact.configurations(energy)
    rows = [tuple(h[k].tolist() + o[k].tolist()) for k in range(p.shape[0])]
    assert sorted(rows) == sorted(ref)  # every configuration once
    for k, key in enumerate(rows):
        torch.testing.assert_close(p[k], ref[key])
    # the coupling matters: the machine without it is a different distribution
    without = te.exact.probabilities(bm, cost, x, y, nudge, 1.0)
    assert float((without - p).abs().max()) > 0.05


def test_exact_grad_J_reaches_the_lateral_weight(float64):
    _, energy, cost, x, y = lateral_boltzmann()
    beta = 1.0
    params = dict(energy.named_parameters())
    key = "lateral_s1.parametrizations.weight.original"
    assert key in params
    auto = torch.autograd.grad(te.exact.objective_J(energy, cost, x, y, beta, 1.0).mean(),
                               list(params.values()))
    got = te.exact.grad_J(energy, cost, x, y, beta=beta, temperature=1.0)
    for (k, _), a in zip(params.items(), auto, strict=True):
        torch.testing.assert_close(got[k], a)
    off = ~torch.eye(4, dtype=torch.bool)
    assert float(got[key][off].abs().max()) > 1e-3
    assert bool((got[key].diagonal() == 0).all())


class HiddenMean(Observer):
    """Per-chain mean of the hidden layer, ``[C, B, n]``."""

    name = "hidden"

    def start(self, target, state, chains):
        super().start(target, state, chains)
        self.total, self.n = 0.0, 0

    def update(self, target, state):
        self.total = self.total + state.position[0]
        self.n += 1

    def finish(self, target):
        return self.total / self.n


def _hidden_z(energy, cost, x, y):
    exact = te.exact.marginals(energy, cost, x, y, 0.0, 1.0)[0]
    ph = te.Gibbs(sweeps=600, burn_in=100, chains=32).run(
        energy, cost, x, y, 0.0, generator=generator(2), observers=[HiddenMean()])
    m = ph["hidden"]
    se = m.std(0) / math.sqrt(m.shape[0])
    assert float(se.max()) < 0.05
    return float(((m.mean(0) - exact).abs() / se.clamp_min(1e-12)).max())


def test_gibbs_on_the_lateral_machine_matches_enumeration(float64, monkeypatch):
    _, energy, cost, x, y = lateral_boltzmann()
    # every pair of hidden units is coupled: one block per hidden unit, then the output
    blocks = energy.blocks
    assert len(blocks) == 5
    hidden = [p for b in blocks for p in b if p.layer == 0]
    assert [int(p.mask.sum()) for p in hidden] == [1, 1, 1, 1]
    assert _hidden_z(energy, cost, x, y) < Z
    ref = te.exact.grad_L(energy, cost, x, y, beta=1.0, temperature=1.0)
    est = te.FiniteNudge(te.Gibbs(sweeps=600, burn_in=100, chains=32), 1.0)
    assert max_z(est(energy, cost, x, y, generator=generator(3)), ref) < Z
    # the defect this guards against: the coupled layer drawn at once (units inhibiting each
    # other all switch on together, then off together) is far from p
    monkeypatch.setattr(energy, "_blocks", ((BlockPart(0, None),), (BlockPart(1, None),)))
    assert _hidden_z(energy, cost, x, y) > 2 * Z


# -- 3. what a sampler cannot handle exactly, it refuses ------------------------------------------


def test_samplers_refuse_what_they_cannot_sample_exactly():
    cost, labels = te.SquaredError(), torch.tensor([0, 1])
    gibbs = te.Gibbs(sweeps=3, burn_in=1)
    x, h, o = te.Input("x", 3), te.Layer("h", 4, "binary"), te.Layer("o", 2, "binary")
    hopfield = te.Energy([x, h, o], [te.Dense(x, h), te.ModernHopfield(h, o, patterns=3)])
    with pytest.raises(TypeError, match="modernhopfield_h_o.*not linear in each unit"):
        gibbs.run(hopfield, cost, torch.randn(2, 3), labels)
    # max pooling between two free layers: the argmax moves with the lower layer's units
    xc, a, b = te.Input("x", (1, 4, 4)), te.Layer("a", (2, 4, 4), "binary"), \
        te.Layer("b", (2, 2, 2), "binary")
    oc = te.Layer("o", 2, "binary")
    pooled = te.Energy([xc, a, b, oc], [te.Conv2d(xc, a, pool=None),
                                        te.Conv2d(a, b, pool="max"), te.Dense(b, oc)])
    with pytest.raises(TypeError, match="conv2d_a_b.*layer 'a'"):
        gibbs.run(pooled, cost, torch.randn(2, 1, 4, 4), labels)
    # ... average pooling is bilinear, and Gibbs runs it
    averaged = te.Energy([xc, a, b, oc], [te.Conv2d(xc, a, pool=None),
                                          te.Conv2d(a, b, pool="avg"), te.Dense(b, oc)])
    assert gibbs.run(averaged, cost, torch.randn(2, 1, 4, 4), labels).info["samples"] == 2
    # units without a closed-form law given their field
    with pytest.raises(TypeError, match="hardsigmoid units have no closed-form law"):
        gibbs.run(te.LayeredHopfield([3, 4, 2], "hardsigmoid"), cost, torch.randn(2, 3), labels)
    # Langevin needs states on all of ℝ: not the barrier of prototypical units, not discrete ones
    for sampler in (te.Langevin(steps=2, burn_in=0),
                    te.Langevin(steps=2, burn_in=0, metropolis=True)):
        with pytest.raises(TypeError, match="cannot respect"):
            sampler.run(te.PrototypicalHopfield([3, 4, 2], "tanh"), cost, torch.randn(2, 3),
                        labels)
        with pytest.raises(TypeError, match="discrete"):
            sampler.run(te.LayeredBoltzmann([3, 4, 2]), cost, torch.randn(2, 3), labels)
    with pytest.raises(TypeError, match="discrete units"):
        te.Relaxation(steps=2).run(te.LayeredBoltzmann([3, 4, 2]), cost, torch.randn(2, 3),
                                   labels)
    with pytest.raises(TypeError, match="continuous tanh units"):
        te.exact.probabilities(te.LayeredHopfield([3, 4, 2]), cost, torch.randn(2, 3), labels)
    # conditional Rao–Blackwellisation averages whole layers, not a layer split by its couplings
    _, lateral, _, xb, yb = lateral_boltzmann()
    with pytest.raises(TypeError, match="couplings within it"):
        te.Gibbs(sweeps=3, burn_in=1).run(lateral, cost, xb, yb,
                                          observers=[MeanParamGrad(ConditionalSmoother())])

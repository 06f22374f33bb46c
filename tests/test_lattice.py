"""A 2-D Ising lattice built from the energy model, sampled by block Gibbs, against enumeration.

16 spins s ∈ {−1, +1} on a 4 × 4 grid, nearest-neighbour couplings J_ij ∈ [0.3, 0.5]
(``te.Lateral`` under ``te.lattice(4, 4)``, around the critical coupling 0.44 of the infinite
lattice, where neighbouring spins are strongly correlated) and a field b (``te.Bias``):

    E(s) = −Σ_{⟨ij⟩} J_ij s_i s_j − Σ_i b_i s_i,     p(s) ∝ exp(−E(s)/T),  T = 1,

no input layer (x = ``torch.zeros(B, 0)`` only carries the batch). The spin layer is also the
output, read by ``SquaredError`` with targets in {−1, +1}, so the nudged law is again an Ising
model (½(s − y)² = 1 − s y for spins: a field b·y). 2¹⁶ configurations are enumerated exactly
(``te.exact``).

The energy computes its Gibbs blocks from the lattice mask: the checkerboard, whose two colours
are conditionally independent given each other. Monte-Carlo tolerances: 5 standard errors over
every entry, the per-chain means being independent replicates. Updating every spin at once
(one block) is not a Gibbs sampler of p, and the test shows it misses by many standard errors.
"""

from __future__ import annotations

import math

import pytest
import torch

import thermoep as te
from tests.problems import generator, max_z
from thermoep.energies import BlockPart
from thermoep.observers import Observer

Z = 5.0
T = 1.0


class Magnetisation(Observer):
    """Per-chain means of the spins of one layer, ``[C, B, n]``, and of the squared total
    magnetisation M² = (Σ_i s_i)², ``[C, B]``: a statistic of one's own, no sampler edited."""

    def __init__(self, layer: int = 0, *, name: str = "magnetisation") -> None:
        self.layer, self.name = layer, name

    def start(self, target, state, chains):
        super().start(target, state, chains)
        self.spins, self.m2, self.n = 0.0, 0.0, 0

    def update(self, target, state):
        s = state.position[self.layer]
        self.spins = self.spins + s
        self.m2 = self.m2 + s.sum(-1) ** 2
        self.n += 1

    def finish(self, target):
        return self.spins / self.n, self.m2 / self.n


def ising(seed=0, batch=2):
    """The 4 × 4 lattice (module docstring), its cost and a batch of ±1 targets."""
    g = generator(seed)
    s = te.Layer("s", 16, "spin")
    lateral = te.Lateral(s, te.lattice(4, 4))
    bias = te.Bias(s)
    energy = te.Energy([s], [lateral, bias])
    with torch.no_grad():
        w = 0.3 + 0.2 * torch.rand(16, 16, generator=g)
        lateral.parametrizations.weight.original.copy_(0.5 * (w + w.T))  # J = W on the mask
        bias.bias.copy_(0.3 * (2 * torch.rand(16, generator=g) - 1))
    x = torch.zeros(batch, 0)
    y = torch.where(torch.rand(batch, 16, generator=g) < 0.5, -1.0, 1.0)
    return energy, te.SquaredError(), x, y


def with_input(seed=1, batch=3):
    """A 3 × 3 spin lattice driven by a 4-unit input through Dense, with two binary hidden
    units on top (Dense): the spin layer's checkerboard and the hidden layer need three blocks.
    The spin layer is the output."""
    g = generator(seed)
    torch.manual_seed(seed)
    x, s, h = te.Input("x", 4), te.Layer("s", 9, "spin"), te.Layer("h", 2, "binary")
    lateral = te.Lateral(s, te.lattice(3, 3))
    terms = [te.Dense(x, s, init_scale=0.4), lateral, te.Bias(s, init_scale=0.2),
             te.Dense(s, h, init_scale=0.4), te.Bias(h, init_scale=0.3)]
    energy = te.Energy([x, s, h], terms, output="s")
    with torch.no_grad():
        w = 0.3 + 0.2 * torch.rand(9, 9, generator=g)
        lateral.parametrizations.weight.original.copy_(0.5 * (w + w.T))
    xs = torch.randn(batch, 4, generator=g)
    y = torch.where(torch.rand(batch, 9, generator=g) < 0.5, -1.0, 1.0)
    return energy, te.SquaredError(), xs, y


def _z(estimate: torch.Tensor, chains: torch.Tensor, reference: torch.Tensor) -> float:
    """Largest |mean − reference| / SE over every entry, SE from the chains' spread."""
    se = chains.std(0) / math.sqrt(chains.shape[0])
    assert float(se.max()) > 0
    return float(((estimate - reference).abs() / se.clamp_min(1e-12)).max())


def _exact_m2(energy, cost, x, y, nudge=0.0):
    """E[(Σ_i s_i)²] per input by enumeration."""
    p = te.exact.probabilities(energy, cost, x, y, nudge, T)  # [K, B]
    conf = te.exact.configurations(energy)[energy.output]      # [K, n]
    return (p * conf.sum(-1, keepdim=True) ** 2).sum(0)


def _gibbs_magnetisation(energy, cost, x, y, nudge=0.0, seed=3, sweeps=400, chains=64):
    sampler = te.Gibbs(sweeps=sweeps, burn_in=50, temperature=T, chains=chains)
    ph = sampler.run(energy, cost, x, y, nudge, generator=generator(seed),
                     observers=[Magnetisation(energy.output)])
    return ph["magnetisation"]


# -- the computed blocks --------------------------------------------------------------------------


def test_lattice_blocks_are_the_checkerboard():
    energy, *_ = ising()
    blocks = energy.blocks
    assert len(blocks) == 2 and all(len(b) == 1 for b in blocks)
    board = (torch.arange(4).reshape(4, 1) + torch.arange(4).reshape(1, 4)) % 2 == 0
    masks = [b[0].mask.reshape(4, 4) for b in blocks]
    assert all(b[0].layer == 0 for b in blocks)
    assert {int(m.sum()) for m in masks} == {8}
    assert torch.equal(masks[0], board) and torch.equal(masks[1], ~board)
    # nothing inside a block interacts: J vanishes between the units of one colour
    J = energy.lateral_s.weight.detach()
    for m in masks:
        flat = m.reshape(-1)
        assert bool((J[flat][:, flat] == 0).all())
    assert float(J[te.lattice(4, 4)].min()) >= 0.3 and float(J.max()) <= 0.5


def test_blocks_of_a_lattice_under_a_dense_layer():
    """The hidden layer couples to every spin, so it shares a block with neither colour."""
    energy, *_ = with_input()
    blocks = energy.blocks
    assert len(blocks) == 3
    parts = sorted((p.layer, None if p.mask is None else int(p.mask.sum()))
                   for b in blocks for p in b)
    assert parts == [(0, 4), (0, 5), (1, None)]


def test_nudged_spin_law_is_the_cost_quadratic_form():
    """SquaredError's (κ, λ) = (1, y) enter the spin law as the field b·λ (the b·½κs² term is
    constant on ±1); the law must be p(s_i = +1 | rest) computed from E + bℓ itself."""
    energy, cost, x, y = ising(batch=3)
    kappa, lam = cost.quadratic_terms(y)
    assert kappa == 1.0 and torch.equal(lam, y)
    b = 0.7
    g = generator(5)
    s = (torch.where(torch.rand(3, 16, generator=g) < 0.5, -1.0, 1.0),)
    law = energy.conditional(x, s, 0, T, curvature=b * kappa, linear=b * lam)
    for i in range(16):
        up, down = s[0].clone(), s[0].clone()
        up[:, i], down[:, i] = 1.0, -1.0
        u_up = energy.energy(x, (up,)) + b * cost.value(up, y)
        u_down = energy.energy(x, (down,)) + b * cost.value(down, y)
        torch.testing.assert_close(law.probability[:, i], torch.sigmoid((u_down - u_up) / T))


# -- Gibbs against enumeration --------------------------------------------------------------------


@pytest.mark.parametrize("nudge", [0.0, 0.8])
def test_block_gibbs_magnetisation_matches_enumeration(nudge, float64):
    energy, cost, x, y = ising()
    exact = te.exact.marginals(energy, cost, x, y, nudge, T)[0]      # [B, 16]
    spins, m2 = _gibbs_magnetisation(energy, cost, x, y, nudge)       # [C, B, 16], [C, B]
    assert _z(spins.mean(0), spins, exact) < Z
    total = spins.sum(-1)
    assert _z(total.mean(0), total, exact.sum(-1)) < Z
    assert _z(m2.mean(0), m2, _exact_m2(energy, cost, x, y, nudge)) < Z
    # not vacuous: the per-site SE is well below the marginals' spread across sites
    se = spins.std(0) / math.sqrt(spins.shape[0])
    assert float(se.max()) < 0.2 * float(exact.std())


def test_updating_every_spin_at_once_is_wrong(float64, monkeypatch):
    """One block of all 16 spins: each spin is drawn given the *old* values of its neighbours.
    On a bipartite lattice that splits into two interleaved checkerboard chains (A_t, B_{t+1},
    A_{t+2}, …) and (B_t, A_{t+1}, …): every site's marginal still converges to p's, but the
    two sublattices at one time come from independent chains, so nearest-neighbour
    correlations — M², and the gradient of every coupling, E[s_i s_j] — are wrong. The
    checkerboard is what makes block Gibbs exact."""
    energy, cost, x, y = ising()
    beta = 0.5
    ref = te.exact.grad_L(energy, cost, x, y, beta=beta, temperature=T)
    est = te.FiniteNudge(te.Gibbs(sweeps=300, burn_in=50, temperature=T, chains=64), beta)
    monkeypatch.setattr(energy, "_blocks", ((BlockPart(0, None),),))
    _, m2 = _gibbs_magnetisation(energy, cost, x, y)
    assert _z(m2.mean(0), m2, _exact_m2(energy, cost, x, y)) > 4 * Z
    assert max_z(est(energy, cost, x, y, generator=generator(9)), ref) > 4 * Z


def test_finite_nudge_on_the_lattice_matches_exact_grad_L(float64):
    energy, cost, x, y = ising()
    beta = 0.5
    ref = te.exact.grad_L(energy, cost, x, y, beta=beta, temperature=T)
    key = "lateral_s.parametrizations.weight.original"
    assert list(ref) == [key, "bias_s.bias"]
    mask = te.lattice(4, 4)
    assert float(ref[key][mask].abs().min()) > 0  # every coupling has a gradient
    assert bool((ref[key][~mask] == 0).all())     # and nothing off the lattice
    est = te.FiniteNudge(te.Gibbs(sweeps=300, burn_in=50, temperature=T, chains=64), beta)
    g = est(energy, cost, x, y, generator=generator(9))
    assert max_z(g, ref) < Z
    def entries(grads):  # the couplings on the lattice and the fields
        return torch.cat([grads[key][mask], grads["bias_s.bias"]])

    # not vacuous: the standard errors are far below the gradient itself
    assert float(entries(g.stats["se"]).median()) < 0.2 * float(entries(ref).abs().median())


def test_lattice_with_input_and_hidden_layer_matches_enumeration(float64):
    energy, cost, x, y = with_input()
    nudge = 0.6
    exact = te.exact.marginals(energy, cost, x, y, nudge, T)
    sampler = te.Gibbs(sweeps=400, burn_in=50, temperature=T, chains=64)
    ph = sampler.run(energy, cost, x, y, nudge, generator=generator(4),
                     observers=[Magnetisation(0), Magnetisation(1, name="hidden")])
    spins, hidden = ph["magnetisation"][0], ph["hidden"][0]
    assert _z(spins.mean(0), spins, exact[0]) < Z
    assert _z(hidden.mean(0), hidden, exact[1]) < Z
    beta = 0.6
    ref = te.exact.grad_L(energy, cost, x, y, beta=beta, temperature=T)
    est = te.FiniteNudge(te.Gibbs(sweeps=300, burn_in=50, temperature=T, chains=64), beta)
    assert max_z(est(energy, cost, x, y, generator=generator(6)), ref) < Z


def test_exact_grad_J_of_an_energy_without_input_is_autograd_of_J(float64):
    """Thm 3.1 by enumeration against autograd through log Z. Without an input no term reads
    x, so E(s_k) is one value per configuration shared by the batch: the batch mean must
    still divide by B."""
    energy, cost, x, y = ising(batch=3)
    beta = 0.7
    params = dict(energy.named_parameters())
    auto = torch.autograd.grad(te.exact.objective_J(energy, cost, x, y, beta, T).mean(),
                               list(params.values()))
    got = te.exact.grad_J(energy, cost, x, y, beta=beta, temperature=T)
    for (k, _), a in zip(params.items(), auto, strict=True):
        torch.testing.assert_close(got[k], a)
    assert float(auto[0].abs().max()) > 1e-3

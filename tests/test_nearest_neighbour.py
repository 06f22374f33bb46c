"""``te.NearestNeighbour``: the stencil form of a lattice coupling against its dense form.

E = −Σ_⟨ij⟩ J_ij ρ_i ρ_j over the 4-neighbour bonds of a grid is the energy of a ``te.Lateral``
whose J is the lattice's: the tests build that dense J independently (``te.lattice`` for a
shared coupling, a loop over sites for one coupling per bond) and compare energy and field in
float64, periodic and open, on (H, W), (C, H, W) and flat layers; the parameter gradients
against autograd; the computed colouring (checkerboard, or three colours on an odd torus)
against the bonds; block Gibbs on 12-spin lattices against enumeration (marginals and
nearest-neighbour correlations, 5 standard errors, the per-chain means being independent
replicates), and the finite-nudge gradient of the per-bond couplings against the exact one.
"""

from __future__ import annotations

import math

import pytest
import torch

import thermoep as te
from tests.problems import generator, max_z

Z = 5.0
T = 1.0


def dense_coupling(term: te.NearestNeighbour) -> torch.Tensor:
    """The ``[n, n]`` J of the term's lattice, built site by site (not from ``bonds()``)."""
    grid = term.grid
    C = grid[0] if len(grid) == 3 else 1
    H, W = grid[-2:]
    J = torch.zeros(C * H * W, C * H * W)
    w = term.weight.detach()
    for c in range(C):
        for y in range(H):
            for x in range(W):
                i = (c * H + y) * W + x
                for d, (yy, xx) in enumerate(((y, x + 1), (y + 1, x))):
                    if not term.periodic and (yy >= H or xx >= W):
                        continue
                    j = (c * H + yy % H) * W + xx % W
                    if term.per_bond:
                        v = w[(d, c, y, x) if len(grid) == 3 else (d, y, x)]
                    else:
                        v = w
                    J[i, j] += v
                    J[j, i] += v
    return J


def as_lateral(layer: te.Layer, J: torch.Tensor) -> te.Lateral:
    """A ``Lateral`` whose effective coupling is J (J = ½(W + Wᵀ) ⊙ M with W = J)."""
    lateral = te.Lateral(layer, J != 0)
    with torch.no_grad():
        lateral.parametrizations.weight.original.copy_(J)
    return lateral


CASES = [  # (layer shape, grid, periodic)
    ((4, 6), None, True),
    ((4, 6), None, False),
    ((5, 3), None, False),        # odd open sides: still a checkerboard
    ((3, 5), None, True),         # an odd torus: three colours
    ((2, 4, 5), None, False),     # two independent lattices
    ((2, 3, 4), None, True),
    (20, (4, 5), True),           # a flat layer laid out as a grid
]


@pytest.mark.parametrize("per_bond", [False, True])
@pytest.mark.parametrize(("shape", "grid", "periodic"), CASES)
def test_energy_and_field_equal_the_dense_lateral(shape, grid, periodic, per_bond, float64):
    torch.manual_seed(0)
    layer = te.Layer("s", shape, "tanh")
    term = te.NearestNeighbour(layer, grid, periodic=periodic, per_bond=per_bond)
    J = dense_coupling(term)
    if not per_bond:
        H, W = term.grid[-2:]
        mask = te.lattice(H, W, periodic=periodic)
        C = term.grid[0] if len(term.grid) == 3 else 1
        mask = torch.block_diag(*[mask] * C)
        assert torch.equal(J != 0, mask)    # the same lattice as te.lattice's
        assert torch.equal(term.couplings(0), mask)
    lateral = as_lateral(layer, J)
    g = generator(1)
    for lead in ((3,), (2, 3)):
        r = torch.randn(*lead, *layer.shape, generator=g)
        torch.testing.assert_close(term.energy(r), lateral.energy(r), rtol=0, atol=1e-12)
        torch.testing.assert_close(term.field(0, r), lateral.field(0, r), rtol=0, atol=1e-12)
    # bonds() lists each bond once, with its coupling
    a, b, w = term.bonds()
    from_bonds = torch.zeros_like(J)
    from_bonds.index_put_((a, b), w, accumulate=True)
    torch.testing.assert_close(from_bonds + from_bonds.T, J, rtol=0, atol=0)


@pytest.mark.parametrize("per_bond", [False, True])
@pytest.mark.parametrize("periodic", [False, True])
@pytest.mark.parametrize("shape", [(4, 5), (2, 3, 4)])
def test_param_grad_is_autograd(shape, periodic, per_bond, float64):
    if periodic and 5 in shape:
        shape = (4, 6)
    torch.manual_seed(2)
    term = te.NearestNeighbour(te.Layer("s", shape, "tanh"), periodic=periodic,
                               per_bond=per_bond)
    g = generator(3)
    r = torch.randn(3, 2, *shape, generator=g)
    weight = torch.randn(3, 2, generator=g)
    auto = torch.autograd.grad(term.energy(r).sum(), term.weight)[0]
    torch.testing.assert_close(term.param_grad(r)["weight"], auto, rtol=0, atol=1e-12)
    rows = [torch.autograd.grad((term.energy(r) * weight)[c].sum(), term.weight)[0]
            for c in range(3)]
    got = term.param_grad(r, weight=weight, per_chain=True)["weight"]
    torch.testing.assert_close(got, torch.stack(rows), rtol=0, atol=1e-12)
    if per_bond and not periodic:   # the absent bonds past an open edge get no gradient
        assert bool((got[:, 0, ..., -1] == 0).all()) and bool((got[:, 1, ..., -1, :] == 0).all())


def test_energy_gradients_through_the_energy_model(float64):
    """state_grad and param_grad of an Energy holding the term equal autograd."""
    torch.manual_seed(4)
    x, s = te.Input("x", 3), te.Layer("s", (2, 4, 4), "tanh")
    term = te.NearestNeighbour(s, periodic=True, per_bond=True)
    energy = te.Energy([x, s], [te.Dense(x, s), term, te.Bias(s)])
    g = generator(5)
    xb = torch.randn(2, 3, generator=g)
    state = (torch.randn(2, 2, 4, 4, generator=g).requires_grad_(),)
    auto = torch.autograd.grad(energy.energy(xb, state).sum(), state)[0]
    torch.testing.assert_close(energy.state_grad(xb, state)[0], auto, rtol=0, atol=1e-12)
    params = dict(energy.named_parameters())
    auto = torch.autograd.grad(energy.energy(xb, state).sum(), list(params.values()))
    got = energy.param_grad(xb, state)
    assert list(got) == list(params)
    for (k, _), a in zip(params.items(), auto, strict=True):
        torch.testing.assert_close(got[k], a, rtol=0, atol=1e-12)


# -- the colouring --------------------------------------------------------------------------------


@pytest.mark.parametrize(("shape", "periodic", "colours"), [
    ((4, 6), True, 2), ((5, 3), False, 2), ((3, 5), True, 3), ((5, 5), True, 3),
    ((2, 3, 4), True, 3), ((2, 4, 4), False, 2)])
def test_blocks_do_not_interact(shape, periodic, colours, monkeypatch):
    layer = te.Layer("s", shape, "spin")
    term = te.NearestNeighbour(layer, periodic=periodic)
    energy = te.Energy([layer], [term, te.Bias(layer)])
    bonds = term.couplings(0)
    # the energy takes the term's own colouring: no [n, n] graph is built
    monkeypatch.setattr(te.NearestNeighbour, "couplings",
                        lambda self, i: pytest.fail("couplings() was built"))
    blocks = energy.blocks
    assert len(blocks) == colours
    masks = [p.mask for b in blocks for p in b]
    assert torch.equal(sum(m.long() for m in masks), torch.ones(layer.size, dtype=torch.long))
    for m in masks:
        assert not bool(bonds[m][:, m].any())
    if colours == 2 and len(shape) == 2 and not any(n % 2 for n in shape):
        H, W = shape
        board = ((torch.arange(H)[:, None] + torch.arange(W)[None]) % 2 == 0).reshape(-1)
        assert torch.equal(masks[0], board)


def test_blocks_with_another_coupling_on_the_layer():
    """With a second coupling on the same layer the energy colours the union of the graphs."""
    layer = te.Layer("s", (4, 4), "spin")
    term = te.NearestNeighbour(layer, periodic=True)
    ring = te.ring(16, 2)              # couples (y, x) to (y, x ± 2) along the rows and wraps
    energy = te.Energy([layer], [term, te.Lateral(layer, ring)])
    union = term.couplings(0) | ring
    masks = [p.mask for b in energy.blocks for p in b]
    assert sum(int(m.sum()) for m in masks) == 16
    for m in masks:
        assert not bool(union[m][:, m].any())


def test_refusals():
    flat = te.Layer("s", 12, "spin")
    with pytest.raises(ValueError, match="grid=\\(H, W\\)"):
        te.NearestNeighbour(flat)
    with pytest.raises(ValueError, match="12 units"):
        te.NearestNeighbour(flat, (3, 5))
    with pytest.raises(ValueError, match="at least 3 sites"):
        te.NearestNeighbour(flat, (2, 6), periodic=True)
    with pytest.raises(ValueError, match="at least 3 sites"):
        te.NearestNeighbour(te.Layer("t", (1, 5), "spin"), periodic=True)
    te.NearestNeighbour(flat, (2, 6))        # an open side of 2 is a plain pair of rows


def test_fixed_coupling_is_a_buffer(float64):
    layer = te.Layer("s", (4, 4), "spin")
    term = te.NearestNeighbour(layer, periodic=True, coupling=0.7, learnable=False)
    energy = te.Energy([layer], [term])
    assert list(energy.named_parameters()) == []
    assert list(energy.state_dict()) == ["nearestneighbour_s.weight"]
    s = torch.ones(1, 4, 4)
    assert float(energy.energy(torch.zeros(1, 0), (s,))) == pytest.approx(-0.7 * 32)
    assert term.param_grad(s) == {}
    learnable = te.NearestNeighbour(layer, periodic=True, coupling=0.7)
    assert [k for k, _ in learnable.named_parameters()] == ["weight"]
    assert learnable.weight.shape == ()


# -- block Gibbs against enumeration --------------------------------------------------------------


def lattice_problem(grid, periodic, seed=0, batch=2):
    """12 spins (a flat layer laid out as ``grid``) with one random coupling per bond in
    [0.2, 0.6] and a random field; the spin layer is the output (SquaredError with ±1
    targets)."""
    torch.manual_seed(seed)
    g = generator(seed)
    n = math.prod(grid)
    s = te.Layer("s", n, "spin")
    term = te.NearestNeighbour(s, grid, periodic=periodic, per_bond=True)
    bias = te.Bias(s)
    with torch.no_grad():
        term.weight.copy_(0.2 + 0.4 * torch.rand(term.weight.shape, generator=g))
        bias.bias.copy_(0.3 * (2 * torch.rand(n, generator=g) - 1))
    energy = te.Energy([s], [term, bias])
    y = torch.where(torch.rand(batch, n, generator=g) < 0.5, -1.0, 1.0)
    return energy, te.SquaredError(), torch.zeros(batch, 0), y


class Moments(te.observers.Observer):
    """Per chain: mean spins ``[C, B, n]`` and mean bond products σ_i σ_j ``[C, B, E]``."""

    name = "moments"

    def __init__(self, a, b):
        self.a, self.b = a, b

    def start(self, target, state, chains):
        super().start(target, state, chains)
        self.spins, self.pairs, self.n = 0.0, 0.0, 0

    def update(self, target, state):
        s = state.position[0]
        self.spins = self.spins + s
        self.pairs = self.pairs + s[..., self.a] * s[..., self.b]
        self.n += 1

    def finish(self, target):
        return self.spins / self.n, self.pairs / self.n


def _z(chains: torch.Tensor, reference: torch.Tensor) -> float:
    se = chains.std(0) / math.sqrt(chains.shape[0])
    assert float(se.max()) > 0
    return float(((chains.mean(0) - reference).abs() / se.clamp_min(1e-12)).max())


@pytest.mark.parametrize(("grid", "periodic", "colours"), [((3, 4), True, 3),
                                                           ((4, 3), False, 2)])
@pytest.mark.parametrize("nudge", [0.0, 0.7])
def test_block_gibbs_matches_enumeration(grid, periodic, colours, nudge, float64):
    energy, cost, x, y = lattice_problem(grid, periodic)
    assert len(energy.blocks) == colours
    a, b, _ = energy.nearestneighbour_s.bonds()
    gibbs = te.Gibbs(sweeps=400, burn_in=50, temperature=T, chains=64)
    phase = gibbs.run(energy, cost, x, y, nudge, generator=generator(7),
                      observers=[Moments(a, b)])
    spins, pairs = phase["moments"]                                   # [C, B, n], [C, B, E]
    p = te.exact.probabilities(energy, cost, x, y, nudge, T)          # [K, B]
    (conf,) = te.exact.configurations(energy)                         # [K, n]
    exact_spins = torch.einsum("kb,kn->bn", p, conf)
    exact_pairs = torch.einsum("kb,kn->bn", p, conf[:, a] * conf[:, b])
    torch.testing.assert_close(exact_spins, te.exact.marginals(energy, cost, x, y, nudge, T)[0])
    assert _z(spins, exact_spins) < Z
    assert _z(pairs, exact_pairs) < Z
    # not vacuous: the SE is well below the spread of the correlations across bonds
    se = pairs.std(0) / math.sqrt(pairs.shape[0])
    assert float(se.max()) < 0.2 * float(exact_pairs.std())


def test_block_gibbs_draws_a_split_layers_uniforms_once_a_sweep(monkeypatch):
    """The colours of a lattice update disjoint parts of one layer, so one uniform draw serves
    them all (each site reads its own number once a sweep); the enumeration test above shows
    the draws stay exact."""
    energy, cost, x, y = lattice_problem((4, 4), True)
    assert len(energy.blocks) == 2
    calls = []
    rand = torch.rand
    monkeypatch.setattr(torch, "rand", lambda *a, **k: calls.append(a[0]) or rand(*a, **k))
    te.Gibbs(sweeps=5, burn_in=0, temperature=T, chains=3).run(energy, cost, x, y, 0.0,
                                                                  generator=generator(0))
    assert len(calls) == 5 and all(tuple(c) == (3, 2, 16) for c in calls), calls


def test_finite_nudge_of_per_bond_couplings_matches_exact_grad_L(float64):
    energy, cost, x, y = lattice_problem((3, 4), True, seed=1)
    beta = 0.5
    ref = te.exact.grad_L(energy, cost, x, y, beta=beta, temperature=T)
    assert list(ref) == ["nearestneighbour_s.weight", "bias_s.bias"]
    est = te.FiniteNudge(te.Gibbs(sweeps=300, burn_in=50, temperature=T, chains=64), beta)
    g = est(energy, cost, x, y, generator=generator(9))
    assert g.grads["nearestneighbour_s.weight"].shape == (2, 3, 4)
    assert max_z(g, ref) < Z

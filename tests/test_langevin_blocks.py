"""Langevin in blocks mode (layer blocks moved in turn) against its closed-form stationary law.

On a layered network of linear units the potential is quadratic, U(s) = ½ sᵀPs − rᵀs (P and r
read off the energy by autograd), so one blocks-mode step is linear in the state: with the
units ordered block by block and L the part of P coupling a unit to the blocks before its own,

    (I + ηL) s' = (I − η(P − L)) s + ηr + √(2ηT) ξ,

i.e. s' = A s + c + B ξ. Its stationary law is Gaussian with mean (I − A)⁻¹c = P⁻¹r (the exact
mean) and covariance Σ = AΣAᵀ + BBᵀ (a discrete Lyapunov equation), which differs from both the
Boltzmann covariance T P⁻¹ and the jacobi-mode one at the same η.
"""

import math

import pytest
import torch
from scipy.linalg import solve_discrete_lyapunov

import thermoep as te
from tests.problems import generator


def _linear_network(seed: int = 0):
    torch.manual_seed(seed)
    x, a = te.Input("x", 3), te.Layer("a", 4, "linear")
    b, c = te.Layer("b", 3, "linear"), te.Layer("c", 2, "linear")
    return te.Energy([x, a, b, c], [te.Dense(x, a, init_scale=0.5), te.Dense(a, b, init_scale=0.5),
                                    te.Dense(b, c, init_scale=0.5), te.Bias(a, init_scale=0.5),
                                    te.Bias(c, init_scale=0.5)])


def _quadratic_form(energy, cost, x, y, nudge):
    """(P, r per input, unit order) of U = E + bℓ over the free units, layer by layer."""
    sizes = energy.layer_sizes
    n = sum(sizes)

    def potential(flat, xi, yi):
        parts = list(torch.split(flat, list(sizes)))
        s = tuple(p.unsqueeze(0) for p in parts)
        u = energy.energy(xi.unsqueeze(0), s)
        return (u + nudge * cost.value(s[energy.output], yi.unsqueeze(0))).sum()

    zero = torch.zeros(n, dtype=torch.float64)
    P = torch.autograd.functional.hessian(lambda f: potential(f, x[0], y[0]), zero)
    r = torch.stack([-torch.autograd.functional.jacobian(
        lambda f, xi=xi, yi=yi: potential(f, xi, yi), zero) for xi, yi in zip(x, y, strict=True)])
    return P, r


def _blocks_law(energy, P, r, eta, T):
    """Mean [B, n] and covariance [n, n] of the blocks-mode chain's stationary law."""
    sizes = energy.layer_sizes
    start = [sum(sizes[:k]) for k in range(len(sizes))]
    block_of = torch.empty(sum(sizes), dtype=torch.long)
    for rank, block in enumerate(energy.layer_blocks):
        for k in block:
            block_of[start[k]:start[k] + sizes[k]] = rank
    earlier = block_of.unsqueeze(1) > block_of.unsqueeze(0)  # unit i's block after unit j's
    L = torch.where(earlier, P, torch.zeros_like(P))
    eye = torch.eye(len(P), dtype=P.dtype)
    M = eye + eta * L
    A = torch.linalg.solve(M, eye - eta * (P - L))
    B = torch.linalg.solve(M, eye) * math.sqrt(2 * eta * T)
    cov = torch.as_tensor(solve_discrete_lyapunov(A.numpy(), (B @ B.T).numpy()))
    mean = torch.linalg.solve(eye - A, (eta * torch.linalg.solve(M, r.T))).T
    return mean, cov, A


def _expected_cost(energy, mean, cov, y):
    sizes = energy.layer_sizes
    o = sum(sizes[:energy.output])
    out = slice(o, o + sizes[energy.output])
    return 0.5 * (((mean[:, out] - y) ** 2).sum(-1) + torch.trace(cov[out, out]))


@pytest.mark.parametrize("nudge", [0.0, 0.7])
def test_blocks_mode_has_its_closed_form_stationary_law(nudge, float64):
    energy, cost = _linear_network(seed=3), te.SquaredError()
    g = generator(5)
    x = torch.randn(2, 3, generator=g, dtype=torch.float64)
    y = torch.randn(2, 2, generator=g, dtype=torch.float64)
    T, eta = 0.5, 0.8
    with torch.no_grad():
        P, r = _quadratic_form(energy, cost, x, y, nudge)
        assert torch.linalg.eigvalsh(P).min() > 0.1  # a proper Gaussian
        mean, cov, A = _blocks_law(energy, P, r, eta, T)
        torch.testing.assert_close(mean, torch.linalg.solve(P, r.T).T)  # unbiased mean
        assert torch.linalg.eigvals(A).abs().max() < 0.95  # the chain mixes
    sampler = te.Langevin(step_size=eta, steps=3000, burn_in=300, temperature=T, chains=128,
                          mode="blocks")
    phase = sampler.run(energy, cost, x, y, nudge, generator=generator(6))
    per_chain = phase.trace["cost"].mean(1)
    m, se = float(per_chain.mean()), float(per_chain.std() / math.sqrt(len(per_chain)))
    with torch.no_grad():
        blocks = float(_expected_cost(energy, mean, cov, y).mean())
        exact = float(_expected_cost(energy, mean, T * torch.linalg.inv(P), y).mean())
        eye = torch.eye(len(P), dtype=P.dtype)
        jac = eye - eta * P  # jacobi mode: every unit moves from the same state
        jacobi_cov = torch.as_tensor(solve_discrete_lyapunov(jac.numpy(),
                                                             (2 * eta * T * eye).numpy()))
        jacobi = float(_expected_cost(energy, mean, jacobi_cov, y).mean())
    assert abs(m - blocks) < 5 * se
    # the test tells the blocks-mode law from the Boltzmann law and from jacobi mode's
    assert abs(blocks - exact) > 8 * se
    assert abs(blocks - jacobi) > 8 * se


def test_blocks_mode_runs_stacked_coupled_phases_like_separate_ones(float64):
    energy, cost = _linear_network(seed=1), te.SquaredError()
    x = torch.randn(3, 3, generator=generator(2), dtype=torch.float64)
    y = torch.tensor([0, 1, 1])
    sampler = te.Langevin(step_size=0.4, steps=40, burn_in=10, temperature=0.05, chains=4,
                          coupled=True, mode="blocks")
    est = te.FiniteNudge(sampler, 0.5)
    stacked = est(energy, cost, x, y, generator=generator(7))
    # the same phases one after the other from the same generator state
    yt = te.samplers.base.prepare(energy, cost, x, y)[1]
    free = sampler.run(energy, cost, x, yt, 0.0, generator=generator(7))
    nudged = sampler.run(energy, cost, x, yt, 0.5, generator=generator(7))
    torch.testing.assert_close(stacked.phases[0.0].output, free.output)
    torch.testing.assert_close(stacked.phases[0.5].output, nudged.output)


def test_blocks_mode_refuses_what_it_cannot_do():
    with pytest.raises(ValueError, match="blocks"):
        te.Langevin(mode="blocks", metropolis=True)
    with pytest.raises(ValueError, match="mode must be one of"):
        te.Langevin(mode="gauss-seidel")
    energy, cost = _linear_network(), te.SquaredError()
    x, y = torch.randn(2, 3), torch.tensor([0, 1])
    with pytest.raises(ValueError, match="blocks mode"):
        te.FiniteNudge(te.Langevin(mode="blocks"), 0.5, rao_blackwell="step")(
            energy, cost, x, y)

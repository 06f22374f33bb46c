"""Samplers on distributions with known answers.

The Gaussian energy makes the temperature visible: E_b[ℓ] = ½(‖μ_b − y‖² + tr Σ), with Σ the
stationary covariance. MALA targets Σ = T (A + bI)⁻¹ exactly; ULA with step η has the known
discretised covariance T Q diag(1 / (λ (1 − ηλ/2))) Qᵀ. A wrong noise factor (√(ηT) instead of
√(2ηT)) halves Σ and fails both tests.
"""

import math

import pytest
import torch

import thermoep as te
from tests.problems import binary_problem, gaussian_problem, generator


def _expected_cost(energy, x, y, b, T, eta=None):
    mean, cov = energy.moments(x, y, b, T)
    if eta is not None:  # ULA's stationary covariance
        prec = energy.precision + b * torch.eye(len(energy.precision))
        lam, q = torch.linalg.eigh(prec)
        cov = T * (q / (lam * (1 - eta * lam / 2))) @ q.T
    return 0.5 * (((mean - y) ** 2).sum(-1) + torch.trace(cov))


def _cost_mean_and_se(phase):
    per_chain = phase.trace["cost"].mean(1)  # [C]: batch-averaged cost, time-averaged
    return float(per_chain.mean()), float(per_chain.std() / math.sqrt(len(per_chain)))


@pytest.mark.parametrize("b", [0.0, 0.8])
@pytest.mark.parametrize("T", [0.3, 2.0])
def test_mala_targets_the_boltzmann_distribution(b, T, float64):
    energy, cost, x, y = gaussian_problem(seed=1)
    eta = 0.3
    s = te.Langevin(step_size=eta, steps=2000, burn_in=200, temperature=T, metropolis=True,
                    chains=64)
    ph = s.run(energy, cost, x, te.samplers.base.prepare(energy, cost, x, y)[1], b,
               generator=generator(0))
    m, se = _cost_mean_and_se(ph)
    with torch.no_grad():
        exact = float(_expected_cost(energy, x, y, b, T).mean())
        ula = float(_expected_cost(energy, x, y, b, T, eta=eta).mean())
    assert abs(m - exact) < 5 * se
    assert abs(ula - exact) > 8 * se  # the test can tell ULA's bias from the truth
    assert 0.3 < ph.info["acceptance"] < 1.0


@pytest.mark.parametrize("T", [0.3, 2.0])
def test_ula_has_its_known_discretisation_bias(T, float64):
    energy, cost, x, y = gaussian_problem(seed=1)
    eta = 0.1
    s = te.Langevin(step_size=eta, steps=2000, burn_in=200, temperature=T, chains=64)
    ph = s.run(energy, cost, x, y.clone(), 0.5, generator=generator(1))
    m, se = _cost_mean_and_se(ph)
    with torch.no_grad():
        ula = float(_expected_cost(energy, x, y, 0.5, T, eta=eta).mean())
        exact = float(_expected_cost(energy, x, y, 0.5, T).mean())
    assert abs(m - ula) < 5 * se
    assert abs(m - exact) > 5 * se  # and it is not the continuous-time answer


def test_gibbs_marginals_match_enumeration(float64):
    bm, cost, x, y = binary_problem((3, 4, 2), batch=2, seed=4)
    yt = te.samplers.base.prepare(bm, cost, x, y)[1]
    ph = te.Gibbs(sweeps=1500, burn_in=100, chains=64).run(bm, cost, x, yt, 0.6,
                                                         generator=generator(4))
    p = te.exact.probabilities(bm, cost, x, y, 0.6).detach()  # [K, B]
    conf = te.samplers.exact._configurations(bm)
    exact_out = p.T @ conf[-1]  # [B, n_L]
    per_chain_cost = ph.trace["cost"].mean(1)
    se_cost = float(per_chain_cost.std() / 8)
    exact_cost = float(te.exact.expected_cost(bm, cost, x, y, 0.6).detach().mean())
    assert abs(float(ph.cost.mean()) - exact_cost) < 5 * se_cost
    torch.testing.assert_close(ph.output, exact_out, atol=0.03, rtol=0)


def test_chain_diagnostics_are_reported(float64):
    bm, cost, x, y = binary_problem(seed=2)
    g = te.FiniteNudge(te.Gibbs(sweeps=300, burn_in=50, chains=8), 1.0)(bm, cost, x, y)
    assert 0.9 < g.stats["free_rhat"] < 1.1
    assert g.stats["free_ess"] > 100
    assert set(g.stats["se"]) == set(dict(bm.named_parameters()))


def test_relaxation_reports_residual_and_stops_at_tolerance(float64):
    from tests.problems import hopfield_problem

    net, cost, x, y = hopfield_problem()
    relax = te.Relaxation(steps=5000, step_size=0.5, tol=1e-10)
    ph = relax.run(net, cost, x, te.samplers.base.prepare(net, cost, x, y)[1], 0.0)
    assert ph.info["residual"] < 1e-10
    assert ph.info["steps"] < 5000
    short = te.Relaxation(steps=3, step_size=0.5).run(net, cost, x, ph.output.new_zeros(4, 3), 0.0)
    assert short.info["residual"] > 1e-4 and short.info["steps"] == 3


def test_same_seed_same_numbers():
    bm, cost, x, y = binary_problem(seed=1)
    est = te.FiniteNudge(te.Gibbs(sweeps=50, burn_in=10, chains=4), 1.0)
    a = est(bm, cost, x, y, generator=generator(3))
    b = est(bm, cost, x, y, generator=generator(3))
    for k in a:
        assert torch.equal(a[k], b[k])

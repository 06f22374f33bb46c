"""The path integral with swaps between its nodes (``PathIntegral(exchange=True)``): the free
phase and the Gauss–Legendre nodes as one replica-exchange run over the nudge ladder
(0, b_1, …, b_n), against exact enumeration.

The gradient is compared entry by entry within 5 of its own standard errors (the spread of the
per-chain estimates over √C) with a bound on the standard error itself, and the objective within
5 SE of the same quadrature of the enumerated E_b[ℓ], so neither passes vacuously."""

from __future__ import annotations

import pytest
import torch
from problems import binary_problem, gaussian_problem, generator, max_z

import thermoep as te

T, BETA, Z = 1.0, 1.5, 5.0


@pytest.fixture
def model(float64):
    """10 free binary units (6 hidden, 4 output), 4 inputs, at T = 1 (as tests/test_objective)."""
    return binary_problem(sizes=(5, 6, 4), batch=4, scale=1.0, seed=3)


def _exact(model, est):
    bm, cost, x, y = model
    ref = te.exact.grad_L(bm, cost, x, y, beta=est.beta, temperature=T)
    with torch.no_grad():
        quad = sum(w * float(te.exact.expected_cost(bm, cost, x, y, b, T).mean())
                   for b, w in est.quadrature())
    return ref, quad


def _largest_se(g) -> float:
    return float(torch.cat([v.flatten() for v in g.stats["se"].values()]).max())


@pytest.mark.parametrize("rao_blackwell", [None, "conditional"])
def test_exchange_path_integral_against_enumeration(model, rao_blackwell):
    gibbs = te.Gibbs(sweeps=200, burn_in=40, temperature=T, chains=32)
    est = te.PathIntegral(gibbs, beta=BETA, nodes=3, exchange=True, rao_blackwell=rao_blackwell)
    g = est(*model, generator=generator(21))
    ref, quad = _exact(model, est)
    assert max_z(g, ref) < Z, max_z(g, ref)
    assert 0.0 < _largest_se(g) < 0.01                     # informative, not vacuous
    value, se = g.stats["objective"], g.stats["objective_se"]
    assert 0.0 < se < 0.01, se
    assert abs(value - quad) < Z * se, (value, quad, se)
    # one run, split into the phases the sequential nodes give
    assert g.nudged_phases == 3 and list(g.phases) == [0.0] + [b for b, _ in est.quadrature()]
    assert {"covariance", "cost_trace", "output"} <= set(g.phases[0.75].observed)
    assert g.phases[0.75].state[0].shape[:2] == (32, 4)
    # the swap facts of the run: every neighbouring pair swaps, replicas travel the ladder
    rates = [g.stats[f"swap_acceptance_{i}"] for i in range(3)]
    assert all(0.0 < r <= 1.0 for r in rates), rates
    assert g.stats["swap_acceptance"] == pytest.approx(sum(rates) / 3)
    assert g.stats["round_trips"] > 0 and g.stats["rungs"] == 4.0
    assert "free_swap_acceptance" not in g.stats  # reported once, not per phase


def test_exchange_with_a_negative_beta(float64):
    """β < 0: the ladder runs from 0 down through the negative nodes."""
    model = binary_problem(sizes=(3, 4, 2), batch=3, seed=5)
    est = te.PathIntegral(te.Gibbs(sweeps=300, burn_in=50, chains=32), beta=-1.0, nodes=3,
                          exchange=True)
    g = est(*model, generator=generator(22))
    ref, quad = _exact(model, est)
    assert max_z(g, ref) < Z and 0.0 < _largest_se(g) < 0.1
    assert abs(g.stats["objective"] - quad) < Z * g.stats["objective_se"]
    assert 0.0 < g.stats["swap_acceptance"] <= 1.0


def test_the_default_runs_the_nodes_in_turn_unchanged(float64):
    """``exchange=False`` (the default) is the sequential path integral, bit for bit."""
    model = binary_problem(sizes=(3, 4, 2), batch=3, seed=5)
    gibbs = te.Gibbs(sweeps=40, burn_in=10, chains=8)
    plain = te.PathIntegral(gibbs, beta=1.0, nodes=3)(*model, generator=generator(3))
    off = te.PathIntegral(gibbs, beta=1.0, nodes=3, exchange=False)(*model,
                                                                     generator=generator(3))
    for k in plain:
        assert torch.equal(plain[k], off[k])
        assert torch.equal(plain.stats["se"][k], off.stats["se"][k])
    assert plain.stats["objective"] == off.stats["objective"]
    assert not any("swap" in k or "round_trip" in k for k in plain.stats)
    on = te.PathIntegral(gibbs, beta=1.0, nodes=3, exchange=True)(*model,
                                                                  generator=generator(3))
    assert not all(torch.equal(on[k], plain[k]) for k in plain)  # the option does something


def test_exchange_is_a_run_config_option():
    from thermoep.config import RunConfig

    for values in ({"estimator__exchange": True, "estimator__swap_every": 2},
                   {"estimator.exchange": True, "estimator.swap_every": 2}):
        cfg = RunConfig.of(estimator="path-integral", sampler="gibbs", **values).resolved()
        est = cfg.make_estimator()
        assert est.exchange is True and est.swap_every == 2
    est = RunConfig.of(estimator="path-integral", sampler="gibbs").resolved().make_estimator()
    assert est.exchange is False


def test_what_exchange_cannot_run_is_refused():
    with pytest.raises(ValueError, match="deterministic"):
        te.PathIntegral(te.Relaxation(), exchange=True)
    with pytest.raises(ValueError, match="coupled"):
        te.PathIntegral(te.Gibbs(coupled=True), exchange=True)
    with pytest.raises(TypeError, match="rebuilds"):
        te.PathIntegral(te.NUTS(temperature=1.0), exchange=True)
    with pytest.raises(TypeError, match="True or False"):
        te.PathIntegral(te.Gibbs(), exchange="yes")
    with pytest.raises(ValueError, match="swap_every"):
        te.PathIntegral(te.Gibbs(), exchange=True, swap_every=0)
    with pytest.raises(ValueError, match="rao_blackwell='step'"):
        te.PathIntegral(te.Langevin(), exchange=True, rao_blackwell="step")
    te.PathIntegral(te.Langevin(), rao_blackwell="step")  # fine without the exchange


def test_exchange_with_mala_on_a_gaussian(float64):
    """MALA rungs (exact p_b): the closed-form gradient, and each node's own acceptance."""
    energy, cost, x, y = gaussian_problem(seed=4)
    mala = te.Langevin(step_size=0.3, steps=600, burn_in=100, temperature=1.0, metropolis=True,
                       chains=32)
    est = te.PathIntegral(mala, beta=1.0, nodes=3, exchange=True, swap_every=2)
    g = est(energy, cost, x, y, generator=generator(23))
    ref = te.gaussian_grad_L(energy, cost, x, y, beta=1.0, temperature=1.0)
    assert max_z(g, ref) < Z and 0.0 < _largest_se(g) < 0.1
    assert 0.0 < g.stats["swap_acceptance"] <= 1.0
    for b, phase in g.phases.items():  # rung r's MALA acceptance lands in node r's info
        assert 0.3 < phase.info["acceptance"] <= 1.0, (b, phase.info)

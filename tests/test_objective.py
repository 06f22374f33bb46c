"""The objective J_β = F_β − F_0 and log Z against exact enumeration (ep-without-limits
Lemma 3.3: J_β = ∫₀^β E_{p_b}[ℓ] db): the estimators' quadrature of the phases they run, annealed
importance sampling of log Z_b, and ``objective`` in a training run's results and its report.

Monte-Carlo checks are seeded and compare within 5 standard errors, with a bound on the standard
error itself so that they cannot pass vacuously."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import xarray as xr
from problems import binary_problem, generator
from typer.testing import CliRunner

import thermoep as te
from thermoep.objectives.base import gauss_legendre, gauss_lobatto

T, BETA = 1.0, 1.5


@pytest.fixture
def model(float64):
    """10 free binary units (6 hidden, 4 output), 4 inputs, at T = 1."""
    return binary_problem(sizes=(5, 6, 4), batch=4, scale=1.0, seed=3)


def _quadrature_of_exact(model, rule) -> float:
    bm, cost, x, y = model
    with torch.no_grad():
        return sum(w * float(te.exact.expected_cost(bm, cost, x, y, b, T).mean())
                   for b, w in rule)


@pytest.mark.parametrize("n", range(5))
def test_quadrature_rules_are_exact_for_their_degree(n):
    beta = -0.7 if n % 2 else 1.3  # either sign of β: the weights carry it
    for rule, degree in ((gauss_lobatto(beta, n), 2 * n + 1),
                         (gauss_legendre(beta, n + 1), 2 * n + 1)):
        assert math.isclose(sum(w for _, w in rule), beta, rel_tol=1e-12)
        for d in range(degree + 1):
            integral = beta ** (d + 1) / (d + 1)
            assert math.isclose(sum(w * b ** d for b, w in rule), integral, rel_tol=1e-10,
                                abs_tol=1e-12)
    ends = gauss_lobatto(beta, n)
    assert ends[0][0] == 0.0 and ends[-1][0] == beta


def test_quadrature_of_the_exact_expected_cost_is_the_exact_objective(model):
    """Lemma 3.3 on the enumerated model, and the rules the estimators use converge on it."""
    J = float(te.exact.objective_J(*model, beta=BETA, temperature=T).mean().detach())
    for rule in (gauss_legendre(BETA, 3), gauss_lobatto(BETA, 2)):
        assert abs(_quadrature_of_exact(model, rule) - J) < 1e-6
    assert abs(_quadrature_of_exact(model, gauss_lobatto(BETA, 0)) - J) > 1e-3  # trapezoid


def _check(g, model, rule, se_max=0.01):
    """The estimate within 5 SE of the same quadrature of the exact E_b[ℓ], and within 5 SE (+
    the quadrature's error) of the exact J_β."""
    value, se = g.stats["objective"], g.stats["objective_se"]
    quad = _quadrature_of_exact(model, rule)
    J = float(te.exact.objective_J(*model, beta=BETA, temperature=T).mean().detach())
    assert 0.0 < se < se_max, se
    assert abs(value - quad) < 5 * se, (value, quad, se)
    assert abs(value - J) < 5 * se + abs(quad - J), (value, J, se)
    return value, se, quad, J


def test_path_integral_objective_against_enumeration(model):
    gibbs = te.Gibbs(sweeps=80, burn_in=20, temperature=T, chains=32)
    est = te.PathIntegral(gibbs, beta=BETA, nodes=3)
    g = est(*model, generator=generator(11))
    assert g.nudged_phases == 3
    _check(g, model, est.quadrature())


def test_finite_nudge_objective_nodes_against_enumeration(model):
    gibbs = te.Gibbs(sweeps=80, burn_in=20, temperature=T, chains=32)
    est = te.FiniteNudge(gibbs, beta=BETA, objective_nodes=2)
    g = est(*model, generator=generator(12))
    assert g.nudged_phases == 3 and len(g.phases) == 4  # free, β, two interior nodes
    _check(g, model, est.objective_rule())
    # the extra phases run after the stencil's: the gradient is the one without them
    plain = te.FiniteNudge(gibbs, beta=BETA)(*model, generator=generator(12))
    assert "objective" not in plain.stats and plain.nudged_phases == 1
    for k in plain:
        torch.testing.assert_close(g[k], plain[k])


def test_objective_nodes_is_a_run_config_option():
    from thermoep.config import RunConfig

    cfg = RunConfig.of(estimator="finite-nudge", estimator__objective_nodes=2).resolved()
    est = cfg.make_estimator()
    assert est.objective_nodes == 2 and len(est.nudges()) == 4
    with pytest.raises(ValueError, match="objective_nodes"):
        te.FiniteNudge(beta=1.0, objective_nodes=-1)


def test_finite_nudge_objective_at_zero_temperature_is_the_relaxed_cost_integral(float64):
    net, cost, x, y = te.LayeredHopfield([5, 6, 3]), te.SquaredError(), torch.rand(4, 5), \
        torch.tensor([0, 1, 2, 0])
    relax = te.Relaxation(steps=60, nudged_steps=60)
    est = te.FiniteNudge(relax, beta=0.5, objective_nodes=2)
    g = est(net, cost, x, y)
    _, targets = te.samplers.prepare(net, cost, x, y)
    expected = 0.0
    for b, w in est.objective_rule():
        ph = relax.run(net, cost, x, y, b)
        expected += w * float(cost.value(ph.output, targets).mean())
    assert math.isnan(g.stats["objective_se"])
    assert abs(g.stats["objective"] - expected) < 1e-6


@pytest.mark.parametrize("nudge", [0.0, BETA])
def test_ais_log_partition_against_enumeration(model, nudge):
    bm, cost, x, y = model
    exact = te.exact.log_partition(bm, cost, x, y, nudge, T).detach()
    log_z, se = te.log_partition_ais(bm, cost, x, y, nudge, T, schedule=100, chains=128,
                                     generator=generator(13))
    assert log_z.shape == se.shape == exact.shape
    assert bool((se > 0).all()) and float(se.max()) < 0.05, se
    z = (log_z - exact).abs() / se
    assert float(z.max()) < 5, (log_z, exact, se)


def test_ais_is_unbiased_in_z_on_a_coarse_schedule(model):
    """E[w] = Z_b / Z_0 for any schedule: ten levels only widen the weights. A weight taken
    after the level's transition instead of before it is off by O(1/K), ≈ 12 SE here."""
    bm, cost, x, y = model
    exact = te.exact.log_partition(bm, cost, x, y, BETA, T).detach()
    log_z, se = te.log_partition_ais(bm, cost, x, y, BETA, T, schedule=10, chains=512,
                                     generator=generator(14))
    assert float(se.max()) < 0.05, se
    assert float(((log_z - exact).abs() / se).max()) < 5, (log_z, exact, se)


def test_ais_refuses_what_it_cannot_anneal(float64):
    net, cost, x, y = te.LayeredHopfield([3, 4, 2]), te.SquaredError(), torch.rand(2, 3), \
        torch.tensor([0, 1])
    with pytest.raises(TypeError, match="discrete"):
        te.log_partition_ais(net, cost, x, y, sampler=te.Gibbs())
    bm, cost, x, y = binary_problem(sizes=(3, 3, 2), batch=2)
    with pytest.raises(ValueError, match="schedule"):
        te.log_partition_ais(bm, cost, x, y, schedule=[0.0, 0.5, 0.4, 1.0])
    with pytest.raises(TypeError, match="Gibbs"):  # a Markov chain, but for continuous units
        te.log_partition_ais(bm, cost, x, y, sampler=te.Langevin())
    with pytest.raises(TypeError, match="Markov-chain"):  # no temperature to anneal
        te.log_partition_ais(bm, cost, x, y, sampler=te.Relaxation())


def test_training_records_the_objective_and_report_plots_it(tmp_path):
    from thermoep.cli import app
    from thermoep.config import RunConfig
    from thermoep.experiment import run

    out = tmp_path / "pi.nc"
    cfg = RunConfig.of(epochs=1, limit_train=40, limit_test=20, hidden=(8,), batch_size=20,
                       estimator="path-integral", nodes=2, steps=8, sampler__burn_in=2,
                       chains=4)
    run(cfg, out=out, quiet=True)
    with xr.open_dataset(out) as ds:
        assert ds["objective"].dims == ("epoch",)
        assert np.isfinite(ds["objective"].values).all()
        assert (ds["objective_se"].values > 0).all()
    r = CliRunner().invoke(app, ["report", str(out)])
    assert r.exit_code == 0, r.output
    assert "J_β" in r.output
    assert out.with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

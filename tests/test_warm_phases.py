"""Phases started from another phase's state (``warm_steps`` / ``warm_burn_in``): their own
schedule, exact draws from their own burn-in on, clear refusals, and the path integral's lean
free phase. Exactness of the estimators under such schedules: tests/test_conditional.py."""

import pytest
import torch

import thermoep as te
from tests.problems import generator
from thermoep.config import RunConfig


def _net():
    torch.manual_seed(0)
    return te.LayeredHopfield([3, 5, 2], "tanh"), te.SquaredError()


def test_cold_and_warm_phases_run_their_own_schedules():
    net, cost = _net()
    x, y = torch.randn(4, 3), torch.tensor([0, 1, 1, 0])
    gibbs = te.Gibbs(sweeps=3, burn_in=2, temperature=1e-2, chains=2, warm_sweeps=5,
                     warm_burn_in=1)
    g = te.PathIntegral(gibbs, 1.0, nodes=2, rao_blackwell="conditional")(
        net, cost, x, y, generator=generator(0))
    steps = {b: (ph.info["steps"], ph.info["samples"]) for b, ph in g.phases.items()}
    assert steps.pop(0.0) == (3, 1)
    assert sorted(steps.values()) == [(5, 4), (5, 4)]
    langevin = te.Langevin(steps=6, burn_in=4, temperature=1e-2, chains=2, warm_steps=9,
                           warm_burn_in=2)
    g = te.FiniteNudge(langevin, 0.5)(net, cost, x, y, generator=generator(1))
    assert (g.phases[0.0].info["steps"], g.phases[0.0].info["samples"]) == (6, 2)
    assert (g.phases[0.5].info["steps"], g.phases[0.5].info["samples"]) == (9, 7)


def test_defaults_are_the_cold_schedule():
    gibbs = te.Gibbs(sweeps=7, burn_in=3)
    assert (gibbs.warm_steps, gibbs.warm_burn_in) == (7, 3)
    assert "warm" not in repr(gibbs)
    assert "warm_sweeps=9" in repr(te.Gibbs(sweeps=7, burn_in=3, warm_sweeps=9))


def test_a_warm_phase_draws_exactly_from_its_own_burn_in():
    """Block Gibbs takes approximate draws (no Metropolis test) during burn-in only: a warm
    phase with warm_burn_in=0 tests its first sweep, a cold one with burn_in=2 does not."""
    net, cost = _net()
    x, y = torch.randn(4, 3), torch.tensor([0, 1, 1, 0])
    target = te.Target.of(net, cost, x, y)
    gibbs = te.Gibbs(sweeps=3, burn_in=2, temperature=1e-2, chains=2, warm_sweeps=3,
                     warm_burn_in=0)
    with torch.no_grad():
        cold = gibbs.init(target, generator=generator(2))
        _, info = gibbs.step(target, cold, 0, generator=generator(3))
        assert info is None  # no acceptance: an approximate draw
        warm = gibbs.init(target, init=cold.position, generator=generator(2))
        _, info = gibbs.step(target, warm, 0, generator=generator(3))
    assert info is not None and 0.0 < float(info["acceptance"]) <= 1.0


@pytest.mark.parametrize("kw, match", [
    (dict(warm_steps=4, warm_burn_in=4), "warm_burn_in must be smaller than warm_steps"),
    (dict(warm_steps=4), "warm_burn_in must be smaller"),  # burn_in=10 carried over
    (dict(warm_steps=40, coupled=True), "coupled=True"),
    (dict(warm_burn_in=2, coupled=True), "coupled=True"),
    (dict(warm_steps=0), "warm_steps"),
])
def test_warm_settings_are_validated(kw, match):
    with pytest.raises(ValueError, match=match):
        te.Langevin(steps=30, burn_in=10, **kw)


def test_config_and_flags_reach_the_sampler():
    cfg = RunConfig.of(sampler="gibbs", estimator="path-integral", temperature=1e-3, steps=3,
                       burn_in=2, warm_steps=5, warm_burn_in=1, coupled=False).resolved()
    assert cfg.sampler.params["warm_sweeps"] == 5
    sampler = cfg.make_sampler()
    assert (sampler.steps, sampler.burn_in, sampler.warm_steps, sampler.warm_burn_in) == \
        (3, 2, 5, 1)
    cfg = RunConfig.of(sampler="langevin", estimator="finite-nudge", warm_steps=12,
                       coupled=False, burn_in=4).resolved()
    assert cfg.make_sampler().warm_steps == 12


def test_path_integral_free_phase_observes_prediction_and_cost_only(monkeypatch):
    """At T > 0 the path integral reads no free-phase gradient: its free phase computes none
    and averages no hidden layer's conditional law (the smoother reads the cost as drawn)."""
    from thermoep.energies.laws import TanhLaw

    net, cost = _net()
    x, y = torch.randn(4, 3), torch.tensor([0, 1, 1, 0])
    gibbs = te.Gibbs(sweeps=4, burn_in=2, temperature=1e-2, chains=2)
    est = te.PathIntegral(gibbs, 1.0, nodes=1, rao_blackwell="conditional")
    means = []
    original = TanhLaw.mean
    monkeypatch.setattr(TanhLaw, "mean", lambda law: means.append(1) or original(law))
    free = te.sample(gibbs, te.Target.of(net, cost, x, y), observers=est.observers(True),
                     generator=generator(4))
    assert "param_grad" not in free.observed and free.output is not None
    assert means == []
    g = est(net, cost, x, y, generator=generator(5))
    assert "covariance" in g.phases[0.5].observed and means  # the node does smooth
    deterministic = te.PathIntegral(te.Relaxation(steps=20), 0.5)
    assert "param_grad" in deterministic(net, cost, x, y).phases[0.0].observed

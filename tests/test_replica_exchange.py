"""Replica exchange (thermoep/samplers/replica_exchange.py) against exact answers.

* A ring of 10 ferromagnetic spins at low temperature (J = 1, T = 0.4, a weak field that makes
  the two aligned modes 1 : 4) is bimodal: plain Gibbs does not cross between the modes (split
  R-hat ≫ 1.1 from a start in both modes, marginals off by many standard errors from a start in
  the minority mode), while a temperature ladder mixes (R-hat near 1, marginals within 5 SE of
  enumeration).
* A nudge ladder samples every rung's p_b exactly (enumeration at each b).
* MALA on a Gaussian energy with a temperature ladder keeps rung 0's closed-form mean and
  variance.

Standard errors are the spread of per-chain means over √C (the chains are independent).
"""

from __future__ import annotations

import math

import pytest
import torch
from pyro.ops.stats import split_gelman_rubin

import thermoep as te
from tests.problems import binary_problem, gaussian_problem, generator
from thermoep.samplers.replica_exchange import ReplicaExchange, Rung

N, T, CHAINS = 10, 0.4, 16
LADDER = (0.4, 0.7, 1.2, 2.0, 3.2)


class LayerMeans(te.observers.Observer):
    """E[s_l] per chain: one ``[C, B, n_l]`` tensor per free layer."""

    name = "layer_means"

    def start(self, target, state, chains):
        super().start(target, state, chains)
        self.total, self.n = None, 0

    def update(self, target, state):
        s = state.position
        self.total = list(s) if self.total is None else [a + b for a, b in zip(self.total, s,
                                                                               strict=True)]
        self.n += 1

    def finish(self, target):
        return tuple(t / self.n for t in self.total)


def max_z(per_chain, exact) -> tuple[float, float]:
    """Largest |mean − exact| / SE over every unit and input, and the largest |mean − exact|."""
    z, err = 0.0, 0.0
    for m, e in zip(per_chain, exact, strict=True):
        se = m.std(0) / math.sqrt(m.shape[0])
        d = (m.mean(0) - e).abs()
        z, err = max(z, float((d / se.clamp_min(1e-12)).max())), max(err, float(d.max()))
    return z, err


def magnetisation():
    return te.observers.Trace(lambda t, s: s.position[0].mean(-1), name="m")


def rhat(phase) -> float:
    return float(split_gelman_rubin(phase["m"], chain_dim=0, sample_dim=1))


def ferromagnet():
    spins = te.Layer("s", N, "spin")
    lateral, bias = te.Lateral(spins, te.ring(N)), te.Bias(spins)
    energy = te.Energy([spins], [lateral, bias])
    with torch.no_grad():
        lateral.parametrizations.weight.original.fill_(1.0)       # J = 1 between neighbours
        bias.bias.fill_(-math.log(4.0) * T / (2 * N))             # p(all −) = 4 p(all +)
    return energy, te.SquaredError(), torch.zeros(1, 0), torch.zeros(1, N)


@pytest.fixture(scope="module")
def bimodal():
    """Plain Gibbs and replica exchange on the ferromagnet, with the enumerated marginals."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        energy, cost, x, y = ferromagnet()
        target = te.Target.of(energy, cost, x, y)
        exact = te.exact.marginals(energy, cost, x, y, temperature=T)
        both = torch.ones(CHAINS, 1, N)
        both[CHAINS // 2:] = -1.0                        # half the chains in each mode
        minority = torch.ones(CHAINS, 1, N)              # every chain in the + mode (p = 0.2)
        gibbs = te.Gibbs(sweeps=600, burn_in=100, temperature=T, chains=CHAINS)
        out = {"exact": exact}
        for name, init in (("plain_both", both), ("plain_minority", minority)):
            out[name] = te.sample(gibbs, target, observers=[magnetisation(), LayerMeans()],
                                  init=(init,), generator=generator(0))
        rex = ReplicaExchange(gibbs, temperatures=LADDER)
        out["replica"] = te.sample(rex, target, observers=[magnetisation(), LayerMeans()],
                                   init=(both,), generator=generator(0))
        yield out
    finally:
        torch.set_default_dtype(old)


def test_plain_gibbs_does_not_mix_the_bimodal_model(bimodal):
    exact = bimodal["exact"]
    assert float(exact[0].mean()) == pytest.approx(-0.6, abs=0.01)  # the modes are 1 : 4
    assert rhat(bimodal["plain_both"]) > 2.0                         # flags non-mixing
    z, err = max_z(bimodal["plain_minority"]["layer_means"], exact)
    assert z > 10 and err > 1.0                                      # stuck in the + mode


def test_replica_exchange_mixes_the_bimodal_model(bimodal):
    phase = bimodal["replica"]
    assert rhat(phase) < 1.1
    z, err = max_z(phase["layer_means"], bimodal["exact"])
    assert z < 5, (z, err)
    assert err < 0.1


def test_swap_acceptance_and_round_trips_are_reported(bimodal):
    info = bimodal["replica"].info
    rates = [info[f"swap_acceptance_{i}"] for i in range(len(LADDER) - 1)]
    assert all(0.0 < r < 1.0 for r in rates), rates
    assert info["swap_acceptance"] == pytest.approx(sum(rates) / len(rates))
    assert info["round_trips"] > 0 and info["round_trips_per_chain"] > 1
    assert 2 * (len(LADDER) - 1) <= info["round_trip_time"] < info["steps"]
    assert info["rungs"] == len(LADDER)


def test_equal_temperatures_always_swap(float64):
    energy, cost, x, y = ferromagnet()
    gibbs = te.Gibbs(sweeps=40, burn_in=10, temperature=T, chains=4)
    rex = ReplicaExchange(gibbs, temperatures=(T, T, T), swap_every=2)
    phase = rex.run(energy, cost, x, y, generator=generator(1))
    assert phase.info["swap_acceptance_0"] == 1.0 and phase.info["swap_acceptance_1"] == 1.0
    # always accepted, the even-odd scheme is a deterministic cycle: a replica leaves the
    # bottom, climbs one rung per round, waits one round on the top, comes down and waits one
    # round on the bottom: 2R = 6 rounds (12 steps) per round trip, 10 for the replica that
    # starts on the bottom (its clock starts at step 0, not on arrival)
    assert 10.0 <= phase.info["round_trip_time"] <= 12.0
    assert phase.info["round_trips_per_chain"] >= 2


def test_nudge_ladder_samples_every_rung(float64):
    bm, cost, x, y = binary_problem((3, 4, 2), batch=2, seed=4)
    nudges = (0.0, 1.0, 2.0, 4.0)
    gibbs = te.Gibbs(sweeps=800, burn_in=100, temperature=1.0, chains=32)
    rex = ReplicaExchange(gibbs, nudges=nudges)
    observers = [Rung(LayerMeans(), r) for r in range(len(nudges))]
    phase = rex.run(bm, cost, x, y, 0.0, observers=observers, generator=generator(2))
    zs = []
    for r, b in enumerate(nudges):
        exact = te.exact.marginals(bm, cost, x, y, nudge=b, temperature=1.0)
        zs.append(max_z(phase[f"layer_means_rung{r}"], exact)[0])
    assert max(zs) < 5, zs
    assert all(0.0 < phase.info[f"swap_acceptance_{i}"] < 1.0 for i in range(3))
    # the rungs differ: the nudge moves the output's marginals (the test is not vacuous)
    free = te.exact.marginals(bm, cost, x, y, nudge=0.0)[-1]
    nudged = te.exact.marginals(bm, cost, x, y, nudge=4.0)[-1]
    assert float((free - nudged).abs().max()) > 0.2


def test_langevin_rung_keeps_the_gaussian_moments(float64):
    energy, cost, x, y = gaussian_problem(seed=1)
    b, temps = 0.5, (0.3, 0.6, 1.2)
    mala = te.Langevin(step_size=0.3, steps=800, burn_in=100, temperature=temps[0],
                       metropolis=True, chains=32)
    rex = ReplicaExchange(mala, temperatures=temps, swap_every=2)
    yt = te.samplers.base.prepare(energy, cost, x, y)[1]

    class Moments(te.observers.Observer):
        name = "moments"

        def start(self, target, state, chains):
            self.s, self.s2, self.n = 0.0, 0.0, 0

        def update(self, target, state):
            s = state.position[0]
            self.s, self.s2, self.n = self.s + s, self.s2 + s * s, self.n + 1

        def finish(self, target):
            return self.s / self.n, self.s2 / self.n

    phase = rex.run(energy, cost, x, yt, b, observers=[Moments()], generator=generator(3))
    with torch.no_grad():
        mean, cov = energy.moments(x, yt, b, temps[0])
    m1, m2 = phase["moments"]                                  # [C, B, n] per chain
    var = m2 - m1 ** 2
    z_mean, _ = max_z((m1,), (mean,))
    z_var, _ = max_z((var,), (torch.diagonal(cov).expand_as(mean),))
    assert z_mean < 5 and z_var < 5, (z_mean, z_var)
    assert 0.3 < phase.info["acceptance"] <= 1.0
    assert "acceptance_rung2" in phase.info
    assert 0.0 < phase.info["swap_acceptance"] < 1.0


def test_an_estimator_runs_on_replica_exchange(float64):
    bm, cost, x, y = binary_problem((3, 4, 2), batch=2, seed=1)
    rex = ReplicaExchange(te.Gibbs(sweeps=30, burn_in=10, chains=4), temperatures=(1.0, 2.0))
    g = te.FiniteNudge(sampler=rex, beta=0.5)(bm, cost, x, y, generator=generator(4))
    assert set(g.grads) == set(dict(bm.named_parameters()))
    assert all(torch.isfinite(v).all() for v in g.grads.values())
    # the conditional Rao–Blackwellisation reads rung 0's Gibbs laws through the wrapper's state
    g = te.FiniteNudge(sampler=rex, beta=0.5, rao_blackwell="conditional")(
        bm, cost, x, y, generator=generator(4))
    assert all(torch.isfinite(v).all() for v in g.grads.values())


def test_path_integral_ladder():
    ladder = ReplicaExchange.path_integral_ladder(1.0, 3)
    assert ladder[0] == 0.0 and list(ladder) == sorted(ladder) and len(ladder) == 4
    assert ladder[2] == pytest.approx(0.5)
    # β < 0: the nodes are negative, the ladder still runs monotonically away from b = 0
    down = ReplicaExchange.path_integral_ladder(-1.0, 3)
    assert list(down) == [-b for b in ladder]
    ReplicaExchange(te.Gibbs(temperature=1.0), nudges=down)  # accepted as a monotone ladder


@pytest.mark.parametrize(("kwargs", "match"), [
    ({}, "needs a ladder"),
    ({"temperatures": (1.0,)}, "at least 2 rungs"),
    ({"temperatures": (1.0, 3.0, 2.0)}, "sorted"),
    ({"temperatures": (2.0, 3.0)}, "start at the target"),
    ({"temperatures": (1.0, -2.0)}, "temperatures"),
    ({"nudges": (0.0, 1.0, 0.5)}, "sorted"),
    ({"nudges": (0.0, 1.0), "temperatures": (1.0, 2.0, 3.0)}, "one entry per rung"),
    ({"temperatures": (1.0, 2.0), "swap_every": 0}, "swap_every"),
])
def test_bad_ladders_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ReplicaExchange(te.Gibbs(temperature=1.0), **kwargs)


def test_samplers_it_cannot_wrap_are_refused(float64):
    with pytest.raises(TypeError, match="deterministic"):
        ReplicaExchange(te.Relaxation(), temperatures=(1.0, 2.0))
    with pytest.raises(TypeError, match="rebuilds"):
        ReplicaExchange(te.NUTS(temperature=1.0), temperatures=(1.0, 2.0))
    rex = ReplicaExchange(te.Gibbs(temperature=1.0), temperatures=(1.0, 2.0))
    with pytest.raises(TypeError, match="rebuilds"):
        ReplicaExchange(rex, temperatures=(1.0, 2.0))
    with pytest.raises(TypeError, match="init and step"):
        ReplicaExchange(object(), temperatures=(1.0, 2.0))
    bm, cost, x, y = binary_problem(seed=0)
    with pytest.raises(ValueError, match="start at the target's nudge"):
        ReplicaExchange(te.Gibbs(), nudges=(0.5, 1.0)).run(bm, cost, x, y, 0.0)
    with pytest.raises(TypeError, match="continuous"):  # Langevin's own check, per rung
        ReplicaExchange(te.Langevin(temperature=1.0), temperatures=(1.0, 2.0)).run(bm, cost,
                                                                                 x, y)
    with pytest.raises(ValueError, match="out of range"):
        ReplicaExchange(te.Gibbs(), temperatures=(1.0, 2.0)).run(
            bm, cost, x, y, observers=[Rung(te.observers.OutputMean(), 2)])
    with pytest.raises(ValueError, match="rao_blackwell='step'"):
        te.FiniteNudge(sampler=ReplicaExchange(te.Langevin(), temperatures=(0.01, 0.1)),
                       rao_blackwell="step")

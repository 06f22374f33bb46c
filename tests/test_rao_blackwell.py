"""Rao–Blackwellised ULA: same expectations as plain ULA, smaller Monte-Carlo error.

References: the Gaussian energy's closed-form gradient (ULA's stationary mean is exact there, so
finite nudge must match it), and plain ULA itself (both estimate the same stationary law, so the
path integral of the two must agree within their combined standard error). The Gauss–Hermite
expectations are checked against a 250-node rule.
"""

import math

import numpy as np
import pytest
import torch

import thermoep as te
from tests.problems import gaussian_problem, generator, hopfield_problem, max_z

Z = 5.0


def _reference_mean(unit, m, var, times=None):
    x, w = np.polynomial.hermite.hermgauss(250)
    out = 0.0
    for xi, wi in zip(x, w, strict=True):
        u = m + math.sqrt(2 * var) * xi
        out = out + wi / math.sqrt(math.pi) * unit.rho(u) * (1.0 if times is None else times(u))
    return out


@pytest.mark.parametrize("activation", ["tanh", "sigmoid4"])
@pytest.mark.parametrize("var", [8e-4, 8e-3, 0.3])
def test_gaussian_expectations_of_rho(activation, var, float64):
    unit = te.LayeredHopfield([3, 4, 2], activation).free_layers[0].unit
    m = torch.linspace(-30, 30, 301)
    sq = lambda u: 0.5 * (u - 0.3) ** 2  # noqa: E731
    torch.testing.assert_close(unit.gaussian_mean(m, var), _reference_mean(unit, m, var),
                               atol=1e-7, rtol=0)
    torch.testing.assert_close(unit.gaussian_mean(m, var, sq),
                               _reference_mean(unit, m, var, sq), atol=1e-7, rtol=1e-7)


def test_rao_blackwellised_finite_nudge_on_gaussian(float64):
    energy, cost, x, y = gaussian_problem(seed=2)
    sampler = te.Langevin(step_size=0.05, steps=700, burn_in=200, temperature=0.5, chains=64)
    g = te.FiniteNudge(sampler, beta=1.0, rao_blackwell="step")(energy, cost, x, y,
                                                              generator=generator(2))
    ref = te.gaussian_grad_L(energy, cost, x, y, beta=1.0, temperature=0.5)
    assert max_z(g, ref) < Z


def _agree_and_shrink(energy, cost, x, y, make, estimator, seed):
    plain = estimator(make(), None)(energy, cost, x, y, generator=generator(seed))
    rb = estimator(make(), "step")(energy, cost, x, y, generator=generator(seed + 1))
    for k in plain:
        se = torch.sqrt(plain.stats["se"][k] ** 2 + rb.stats["se"][k] ** 2)
        z = float(((plain[k] - rb[k]).abs() / se.clamp_min(1e-12)).max())
        assert z < Z, k  # max over every entry (a wrong output-layer moment gives z ≈ 8)
    ratio = (torch.cat([rb.stats["se"][k].flatten() for k in rb])
             / torch.cat([plain.stats["se"][k].flatten() for k in plain]).clamp_min(1e-12))
    return float(ratio.median())


def test_rao_blackwellised_path_integral_agrees_with_plain_ula_on_gaussian(float64):
    energy, cost, x, y = gaussian_problem(seed=4)

    def make():
        return te.Langevin(step_size=0.05, steps=400, burn_in=100, temperature=1.0, chains=64)

    ratio = _agree_and_shrink(
        energy, cost, x, y, make,
        lambda s, rb: te.PathIntegral(s, beta=1.0, nodes=3, rao_blackwell=rb), seed=4)
    assert ratio < 1.0


def test_rao_blackwellised_path_integral_agrees_with_plain_ula_on_hopfield(float64):
    net, cost, x, y = hopfield_problem(sizes=(5, 6, 4, 3), seed=1)

    def make():
        return te.Langevin(step_size=0.2, steps=150, burn_in=50, temperature=0.01, chains=64)

    ratio = _agree_and_shrink(
        net, cost, x, y, make,
        lambda s, rb: te.PathIntegral(s, beta=1.0, nodes=2, rao_blackwell=rb), seed=7)
    assert ratio < 0.8  # the fresh noise (2ηT of the ≈ T/(1 − η/2) per unit) is averaged out


def test_rao_blackwell_needs_ula_smooth_units_and_squared_error(float64):
    with pytest.raises(ValueError, match="ULA"):
        te.FiniteNudge(te.Langevin(metropolis=True), rao_blackwell="step")
    net, cost, x, y = hopfield_problem(activation="hardsigmoid")
    est = te.FiniteNudge(te.Langevin(steps=5, burn_in=1, temperature=0.1, chains=2),
                         rao_blackwell="step")
    with pytest.raises(ValueError, match="smooth activation"):
        est(net, cost, x, y)
    net, _, x, y = hopfield_problem()
    with pytest.raises(TypeError, match="SquaredError"):
        est(net, te.CrossEntropy(), x, y)


def test_plain_shares_one_answer_among_the_observers_of_a_kept_state():
    """The observers of one kept state read one ``plain`` answer (its cost computed once); a
    new state, or the same state for another target, is computed afresh and right."""
    from thermoep.observers.smoothing import plain
    from thermoep.samplers.base import Target, prepare

    net, cost, x, y = hopfield_problem(sizes=(3, 4, 2), batch=2)
    x, y = prepare(net, cost, x, y)
    target, nudged = Target(net, cost, x, y, 0.0), Target(net, cost, x, y, 0.5)
    sampler = te.Langevin(steps=2, burn_in=0, chains=2, temperature=0.01)
    state = sampler.init(target, generator=generator(0))
    first = plain(target, state)
    assert plain(target, state) is first
    assert plain(nudged, state) is not first
    new, _ = sampler.step(target, state, 0, generator=generator(1))
    again = plain(target, new)
    assert again is not first
    out = net.output
    torch.testing.assert_close(again.cost, cost.value(new.position[out], y))
    torch.testing.assert_close(again.rho[-1], net.rho(out, new.position[out]))
    # a sampler that moves its state in place gets a fresh answer
    new.position[out].add_(1.0)
    torch.testing.assert_close(plain(target, new).cost, cost.value(new.position[out], y))
    with torch.inference_mode():  # tensors without version counters: computed every time
        moved = sampler.step(target, new, 1, generator=generator(2))[0]
        a, b = plain(target, moved), plain(target, moved)
    assert a is not b
    torch.testing.assert_close(a.cost, b.cost)


def test_plain_keeps_nothing_alive_once_the_batch_is_gone():
    """``plain``'s kept answer lives in the batch's target cache: dropping the targets and the
    state frees the network."""
    import gc
    import weakref

    from thermoep.observers.smoothing import plain
    from thermoep.samplers.base import Target, prepare

    net, cost, x, y = hopfield_problem(sizes=(3, 4, 2), batch=2)
    x, y = prepare(net, cost, x, y)
    target = Target(net, cost, x, y, 0.0)
    state = te.Langevin(chains=2, temperature=0.01).init(target, generator=generator(0))
    plain(target, state)
    alive = weakref.ref(net)
    del net, target, state
    gc.collect()
    assert alive() is None

"""Monte-Carlo estimators against exact references, with tolerances from their own standard
errors (5 σ over every parameter entry), so they neither flake nor pass vacuously."""

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import thermoep as te
from tests.problems import (
    binary_problem,
    float64_default,
    gaussian_problem,
    generator,
    max_z,
)

Z = 5.0


@given(
    sizes=st.sampled_from([(3, 4, 2), (2, 3, 3), (4, 2, 2, 2)]),
    beta=st.sampled_from([-1.0, 0.5, 1.0, 2.0]),
    T=st.sampled_from([0.7, 1.0, 2.0]),
    seed=st.integers(0, 1000),
)
def test_gibbs_finite_nudge_matches_thm31(sizes, beta, T, seed):
    with float64_default():
        bm, cost, x, y = binary_problem(sizes, batch=3, seed=seed)
        est = te.FiniteNudge(te.Gibbs(sweeps=600, burn_in=100, chains=48, temperature=T), beta)
        g = est(bm, cost, x, y, generator=generator(seed))
        ref = te.exact.grad_L(bm, cost, x, y, beta=beta, temperature=T)
        assert max_z(g, ref) < Z
        # the estimate is informative: not vacuous (SE well below the signal)
        assert float(torch.cat([v.flatten() for v in g.stats["se"].values()]).max()) < 0.1


@given(
    sizes=st.sampled_from([(3, 4, 2), (2, 3, 3)]),
    beta=st.sampled_from([0.5, 1.0, -1.0]),
    T=st.sampled_from([0.7, 1.0, 2.0]),
    seed=st.integers(0, 1000),
)
def test_gibbs_path_integral_matches_thm34(sizes, beta, T, seed):
    with float64_default():
        bm, cost, x, y = binary_problem(sizes, batch=3, seed=seed)
        est = te.PathIntegral(te.Gibbs(sweeps=500, burn_in=100, chains=48, temperature=T),
                              beta, nodes=4)
        g = est(bm, cost, x, y, generator=generator(seed))
        ref = te.exact.grad_L(bm, cost, x, y, beta=beta, temperature=T)
        assert g.nudged_phases == 4
        assert max_z(g, ref) < Z


def test_centered_gibbs_matches_exact_symmetric_difference(float64):
    bm, cost, x, y = binary_problem((3, 4, 2), seed=7)
    g = te.Centered(te.Gibbs(sweeps=800, burn_in=100, chains=64), beta=0.7)(
        bm, cost, x, y, generator=generator(7))
    gp = te.exact.grad_J(bm, cost, x, y, beta=0.7)
    gm = te.exact.grad_J(bm, cost, x, y, beta=-0.7)
    ref = {k: (gp[k] - gm[k]) / 1.4 for k in gp}
    assert g.nudged_phases == 2
    assert max_z(g, ref) < Z


def test_standard_error_shrinks_with_budget(float64):
    bm, cost, x, y = binary_problem((3, 4, 2), seed=11)
    ref = te.exact.grad_L(bm, cost, x, y, beta=1.0)
    errs, ses = [], []
    for chains in (8, 128):
        g = te.FiniteNudge(te.Gibbs(sweeps=400, burn_in=50, chains=chains), 1.0)(
            bm, cost, x, y, generator=generator(0))
        errs.append(float((g.flat() - te.Gradient(ref).flat()).norm()))
        ses.append(float(torch.cat([v.flatten() for v in g.stats["se"].values()]).norm()))
    assert ses[1] < ses[0] / 3  # √16 = 4 in expectation
    assert errs[1] < errs[0]
    assert g.cosine(ref) > 0.99


@pytest.mark.parametrize("metropolis", [False, True])
def test_langevin_finite_nudge_on_gaussian(metropolis, float64):
    energy, cost, x, y = gaussian_problem(seed=2)
    sampler = te.Langevin(step_size=0.05, steps=1500, burn_in=200, temperature=0.5,
                          metropolis=metropolis, chains=64)
    g = te.FiniteNudge(sampler, beta=1.0)(energy, cost, x, y, generator=generator(2))
    ref = te.gaussian_grad_L(energy, cost, x, y, beta=1.0, temperature=0.5)
    # E_b[∂θE] is linear in the mean, and Langevin's Gaussian stationary mean is exact even for ULA
    assert max_z(g, ref) < Z


def test_langevin_path_integral_on_gaussian(float64):
    energy, cost, x, y = gaussian_problem(seed=4)
    sampler = te.Langevin(step_size=0.05, steps=1200, burn_in=200, temperature=1.0,
                          metropolis=True, chains=64)
    g = te.PathIntegral(sampler, beta=1.0, nodes=3)(energy, cost, x, y, generator=generator(4))
    ref = te.gaussian_grad_L(energy, cost, x, y, beta=1.0, temperature=1.0)
    assert max_z(g, ref) < Z


def test_path_integral_replicates_average_to_its_estimate(float64):
    """The path integral's mean is one product summed over chains and its per-chain replicates
    (read only for the standard error) are taken apart: both must describe the same estimate
    (mean of the replicates = the estimate; their spread = the standard error)."""
    bm, cost, x, y = binary_problem((3, 4, 2), batch=3, seed=5)
    est = te.PathIntegral(te.Gibbs(sweeps=40, burn_in=10, chains=6, temperature=1.0), 1.0,
                          nodes=2)
    g = est(bm, cost, x, y, generator=generator(5))
    se = g.stats["se"]
    for k, v in g.items():
        reps = se._replicates[k]
        assert reps.shape == (6, *v.shape)
        torch.testing.assert_close(reps.mean(0), v, rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(se[k], reps.std(0) / 6 ** 0.5)

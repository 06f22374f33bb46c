"""Bad input is a clear ValueError/TypeError naming the value and the accepted range."""

import pytest
import torch

import thermoep as te
from tests.problems import binary_problem, gaussian_problem, hopfield_problem


def test_wrong_input_shape():
    net, cost, x, y = hopfield_problem()
    with pytest.raises(ValueError, match=r"x must have shape \[batch, 5\], got \[4, 7\]"):
        te.Centered(te.Relaxation(steps=5), 0.1)(net, cost, torch.randn(4, 7), y)


def test_wrong_target_shape_and_labels():
    net, cost, x, y = hopfield_problem()
    est = te.OneSided(te.Relaxation(steps=5), 0.1)
    with pytest.raises(ValueError, match=r"targets \[batch, 3\]"):
        est(net, cost, x, torch.zeros(4, 5))
    with pytest.raises(ValueError, match=r"class labels must lie in \[0, 2\]"):
        est(net, cost, x, torch.tensor([0, 1, 2, 3]))
    with pytest.raises(ValueError, match="batch 4 but y has batch 3"):
        est(net, cost, x, torch.tensor([0, 1, 2]))


@pytest.mark.parametrize("cls", [te.OneSided, te.FiniteNudge, te.Centered, te.PathIntegral])
def test_zero_beta(cls):
    with pytest.raises(ValueError, match="beta must be non-zero.*got 0"):
        cls(te.Relaxation(), beta=0.0)


def test_non_finite_beta():
    with pytest.raises(ValueError, match="beta must be finite"):
        te.OneSided(te.Relaxation(), beta=float("nan"))


@pytest.mark.parametrize("T", [0.0, -1.0])
def test_non_positive_temperature(T):
    with pytest.raises(ValueError, match=f"temperature must be > 0, got {T}"):
        te.Langevin(temperature=T)
    with pytest.raises(ValueError, match="temperature must be > 0"):
        te.Gibbs(temperature=T)
    bm, cost, x, y = binary_problem()
    with pytest.raises(ValueError, match="temperature must be > 0"):
        te.exact.grad_J(bm, cost, x, y, temperature=T)


def test_non_finite_weights():
    net, cost, x, y = hopfield_problem()
    with torch.no_grad():
        net.weights[1][0, 0] = float("nan")
    with pytest.raises(ValueError, match="'dense_s1_s2.weight' contains non-finite"):
        te.Centered(te.Relaxation(steps=5), 0.1)(net, cost, x, y)


def test_too_many_units_for_exact():
    bm = te.LayeredBoltzmann([3, 12, 10])
    with pytest.raises(ValueError, match="at most 20 free units"):
        te.exact.grad_J(bm, te.SquaredError(), torch.zeros(2, 3), torch.tensor([0, 1]))


def test_bad_sampler_budgets():
    with pytest.raises(ValueError, match="burn_in must be smaller than steps"):
        te.Langevin(steps=10, burn_in=10)
    with pytest.raises(ValueError, match="chains must be an integer >= 1, got 0"):
        te.Gibbs(chains=0)
    with pytest.raises(TypeError, match="steps must be an int"):
        te.Relaxation(steps=2.5)
    with pytest.raises(ValueError, match="step_size must be > 0"):
        te.Langevin(step_size=-0.1)


def test_sampler_unit_type_mismatch():
    bm, cost, x, y = binary_problem()
    with pytest.raises(TypeError, match="discrete units: deterministic relaxation"):
        te.OneSided(te.Relaxation(), 0.1)(bm, cost, x, y)
    with pytest.raises(TypeError, match="Langevin needs continuous units"):
        te.FiniteNudge(te.Langevin(steps=5, burn_in=1), 1.0)(bm, cost, x, y)
    net, cost, x, y = hopfield_problem(activation="sigmoid4")
    with pytest.raises(TypeError, match="sigmoid4 units have no closed-form law"):
        te.FiniteNudge(te.Gibbs(sweeps=5, burn_in=1), 1.0)(net, cost, x, y)


def test_path_integral_needs_two_chains():
    bm, cost, x, y = binary_problem()
    with pytest.raises(ValueError, match="chains >= 2"):
        te.PathIntegral(te.Gibbs(sweeps=5, burn_in=1, chains=1), 1.0)(bm, cost, x, y)


def test_gibbs_with_non_separable_cost():
    bm, _, x, y = binary_problem()
    with pytest.raises(TypeError, match="not quadratic and separable"):
        te.FiniteNudge(te.Gibbs(sweeps=5, burn_in=1), 1.0)(bm, te.CrossEntropy(), x, y)


@pytest.mark.parametrize("sampler", [
    te.Relaxation(steps=5), te.Langevin(steps=5, burn_in=1, temperature=0.01, chains=2)])
@pytest.mark.parametrize("cls", [te.Centered, lambda s, b: te.OneSided(s, -b)])
def test_negative_nudge_without_equilibrium(sampler, cls):
    # ½‖s_L‖² − ½‖s_L − y‖² is linear in s_L: no minimum, no Boltzmann distribution at b = −1
    net, cost, x, y = hopfield_problem()
    with pytest.raises(ValueError, match="no equilibrium.*need b > -1"):
        cls(sampler, 1.0)(net, cost, x, y)
    g = cls(sampler, 0.9)(net, cost, x, y)  # just inside: runs and stays finite
    assert all(torch.isfinite(v).all() for v in g.values())
    # positive nudges of any size, a bounded cost, and boxed states are always proper
    te.FiniteNudge(sampler, 5.0)(net, cost, x, y)
    te.Centered(sampler, 5.0)(net, te.CrossEntropy(), x, y)
    boxed, _, _, _ = hopfield_problem(activation="hardsigmoid")
    te.Centered(te.Relaxation(steps=5), 5.0)(boxed, cost, x, y)


def test_negative_nudge_limit_follows_gaussian_precision():
    energy, cost, x, y = gaussian_problem()
    k = energy.output_curvature  # smallest eigenvalue of A: p_b has precision A + bI
    relax = te.Relaxation(steps=5)
    te.OneSided(relax, -0.9 * k)(energy, cost, x, y)
    with pytest.raises(ValueError, match="no equilibrium"):
        te.OneSided(relax, -1.01 * k)(energy, cost, x, y)


def test_bad_model_arguments():
    with pytest.raises(ValueError, match="activation must be one of"):
        te.LayeredHopfield([3, 2], "relu")
    with pytest.raises(ValueError, match="at least one free layer"):
        te.LayeredHopfield([3])
    with pytest.raises(ValueError, match="positive int"):
        te.LayeredBoltzmann([3, 0, 2])

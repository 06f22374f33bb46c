"""Deterministic EP (T = 0) against implicit differentiation and BPTT (seed hybrid-ep §2.2):
one-sided error ∝ β (eq. 7), centered error ∝ β² (eq. 10); T → 0 limit of the stochastic ones."""

import math

import pytest
import torch

import thermoep as te
from tests.problems import generator, hopfield_problem, max_z

BETAS = (0.01, 0.005, 0.0025)


def _slopes(est_cls, net, cost, x, y, relax, sign=1.0):
    ref = te.implicit_grad(net, cost, x, y, relax).flat()
    errs = [float((est_cls(relax, beta=sign * b)(net, cost, x, y).flat() - ref).norm())
            for b in BETAS]
    return [math.log(errs[i] / errs[i + 1]) / math.log(2) for i in range(len(errs) - 1)]


@pytest.mark.parametrize("activation", ["tanh", "hardsigmoid", "sigmoid4"])
def test_bias_orders(activation, float64):
    net, cost, x, y = hopfield_problem(activation=activation, seed=3)
    relax = te.Relaxation(steps=5000, step_size=0.5, tol=1e-13)
    for s in _slopes(te.OneSided, net, cost, x, y, relax):
        assert s == pytest.approx(1.0, abs=0.05)
    for s in _slopes(te.OneSided, net, cost, x, y, relax, sign=-1.0):  # N-EP
        assert s == pytest.approx(1.0, abs=0.05)
    for s in _slopes(te.Centered, net, cost, x, y, relax):
        assert s == pytest.approx(2.0, abs=0.05)


@pytest.mark.parametrize("activation", ["tanh", "sigmoid4", "hardsigmoid"])
def test_bias_orders_prototypical(activation, float64):
    """Same orders for the bilinear energy of Laborieux et al., relaxed by s ← σ(h − β∂ℓ)."""
    torch.manual_seed(3)
    net = te.PrototypicalHopfield([5, 6, 3], activation)
    _, cost, x, y = hopfield_problem(seed=3)
    relax = te.Relaxation(steps=5000, tol=1e-13)
    for s in _slopes(te.OneSided, net, cost, x, y, relax):
        assert s == pytest.approx(1.0, abs=0.05)
    for s in _slopes(te.Centered, net, cost, x, y, relax):
        assert s == pytest.approx(2.0, abs=0.05)
    bptt = te.bptt_grad(net, cost, x, y, te.Relaxation(steps=600))
    imp = te.implicit_grad(net, cost, x, y, relax)
    for k in imp:
        torch.testing.assert_close(bptt[k], imp[k], atol=1e-9, rtol=1e-7)


def test_bptt_equals_implicit_gradient(float64):
    net, cost, x, y = hopfield_problem(sizes=(4, 6, 5, 3), seed=5)
    imp = te.implicit_grad(net, cost, x, y)
    bptt = te.bptt_grad(net, cost, x, y, te.Relaxation(steps=600, step_size=0.5))
    for k in imp:
        torch.testing.assert_close(bptt[k], imp[k], atol=1e-9, rtol=1e-7)


def test_centered_matches_implicit_closely_in_float32():
    net, cost, x, y = hopfield_problem(seed=2)
    relax = te.Relaxation(steps=400, step_size=0.5)
    g = te.Centered(relax, beta=0.05)(net, cost, x, y)
    ref = te.implicit_grad(net, cost, x, y, relax)
    assert g.cosine(ref) > 0.999


def test_stochastic_estimators_approach_deterministic_ep_as_T_to_0(float64):
    net, cost, x, y = hopfield_problem(seed=4)
    relax = te.Relaxation(steps=3000, step_size=0.5, tol=1e-12)
    det_grad = te.OneSided(relax, beta=0.5)(net, cost, x, y)
    det = det_grad.flat()
    errs = []
    for T in (1e-2, 1e-4):
        lang = te.Langevin(step_size=0.2, steps=600, burn_in=300, temperature=T, chains=16)
        g = te.FiniteNudge(lang, beta=0.5)(net, cost, x, y, generator=generator(0))
        errs.append(float((g.flat() - det).norm() / det.norm()))
    assert errs[1] < errs[0] / 5
    assert errs[1] < 1e-2
    # Path integral: −Cov_b/T stays O(1) as T → 0, so its noise does not vanish; at T = 1e-4 the
    # O(T) bias is negligible and the deterministic answer must lie within 5 standard errors.
    lang = te.Langevin(step_size=0.2, steps=600, burn_in=300, temperature=1e-4, chains=32)
    pi = te.PathIntegral(lang, beta=0.5, nodes=4)(net, cost, x, y, generator=generator(0))
    assert max_z(pi, det_grad) < 5
    assert pi.cosine(det_grad) > 0.98


def test_path_integral_with_relaxation_is_one_sided(float64):
    net, cost, x, y = hopfield_problem(seed=6)
    relax = te.Relaxation(steps=500, step_size=0.5)
    a = te.PathIntegral(relax, beta=0.1)(net, cost, x, y)
    b = te.OneSided(relax, beta=0.1)(net, cost, x, y)
    assert a.nudged_phases == 1
    for k in a:
        torch.testing.assert_close(a[k], b[k])


def test_nudged_phase_counts():
    net, cost, x, y = hopfield_problem()
    relax = te.Relaxation(steps=20)
    assert te.OneSided(relax, 0.1)(net, cost, x, y).nudged_phases == 1
    assert te.Centered(relax, 0.1)(net, cost, x, y).nudged_phases == 2


def test_apply_writes_grads_for_any_optimizer():
    net, cost, x, y = hopfield_problem()
    g = te.Centered(te.Relaxation(steps=20), 0.1)(net, cost, x, y)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    before = net.weights[0].detach().clone()
    g.apply_(net)
    opt.step()
    torch.testing.assert_close(net.weights[0].detach(), before - 0.1 * g["dense_x_s1.weight"])

"""Seed ep-without-limits, proven by enumeration on small binary models (docs/design.md §1).

Thm 3.1  ∇θ J_β = E_β[∂θE] − E_0[∂θE]             (exact.grad_J vs autograd of enumerated J)
Lemma 3.3 dF_b/db = E_b[ℓ]
Thm 3.4  ∇θ J_β = −(1/T) ∫₀^β Cov_b(∂θE, ℓ) db   (quadrature of the enumerated covariance)
Gibbs variational bound  J_β ≤ β E_0[ℓ]
"""

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import thermoep as te
from tests.problems import binary_problem, float64_default

sizes_st = st.lists(st.integers(1, 4), min_size=2, max_size=4).filter(lambda s: sum(s[1:]) <= 10)
beta_st = st.floats(-2.0, 2.0).filter(lambda b: abs(b) > 1e-3)
temp_st = st.floats(0.2, 3.0)


@given(sizes=sizes_st, beta=beta_st, T=temp_st, seed=st.integers(0, 10_000))
def test_thm31_grad_J_equals_autograd_of_J(sizes, beta, T, seed):
    with float64_default():
        bm, cost, x, y = binary_problem(tuple(sizes), batch=3, scale=1.5, seed=seed)
        ref = te.exact.grad_J(bm, cost, x, y, beta=beta, temperature=T)
        J = te.exact.objective_J(bm, cost, x, y, beta, T).mean()
        auto = torch.autograd.grad(J, list(bm.parameters()))
        for (k, _), a in zip(bm.named_parameters(), auto, strict=True):
            torch.testing.assert_close(ref[k], a, atol=1e-10, rtol=1e-8)


@given(sizes=sizes_st, b=beta_st, T=temp_st, seed=st.integers(0, 10_000))
def test_lemma33_dF_db_is_expected_cost(sizes, b, T, seed):
    with float64_default():
        bm, cost, x, y = binary_problem(tuple(sizes), batch=2, scale=1.5, seed=seed)
        h = 1e-5
        dF = (te.exact.free_energy(bm, cost, x, y, b + h, T)
              - te.exact.free_energy(bm, cost, x, y, b - h, T)) / (2 * h)
        torch.testing.assert_close(dF, te.exact.expected_cost(bm, cost, x, y, b, T).detach(),
                                   atol=1e-7, rtol=1e-6)


@given(sizes=sizes_st, beta=beta_st, T=temp_st, seed=st.integers(0, 10_000))
def test_thm34_path_integral_of_covariance(sizes, beta, T, seed):
    with float64_default():
        bm, cost, x, y = binary_problem(tuple(sizes), batch=2, scale=1.5, seed=seed)
        ref = te.exact.grad_J(bm, cost, x, y, beta=beta, temperature=T)
        t, w = np.polynomial.legendre.leggauss(24)
        total = None
        for tk, wk in zip(t, w, strict=True):
            cov = te.exact.covariance(bm, cost, x, y, beta * (tk + 1) / 2, T)
            term = {k: -(beta * wk / 2) / T * v for k, v in cov.items()}
            total = term if total is None else {k: total[k] + term[k] for k in total}
        for k in ref:
            torch.testing.assert_close(total[k], ref[k], atol=1e-8, rtol=1e-6)


@given(sizes=sizes_st, beta=beta_st, T=temp_st, seed=st.integers(0, 10_000))
def test_gibbs_variational_bound(sizes, beta, T, seed):
    with float64_default():
        bm, cost, x, y = binary_problem(tuple(sizes), batch=3, scale=1.5, seed=seed)
        J = te.exact.objective_J(bm, cost, x, y, beta, T)
        bound = beta * te.exact.expected_cost(bm, cost, x, y, 0.0, T)
        assert torch.all(J <= bound + 1e-10)


def test_grad_L_is_grad_J_over_beta(float64):
    bm, cost, x, y = binary_problem(seed=3)
    gJ = te.exact.grad_J(bm, cost, x, y, beta=0.5)
    gL = te.exact.grad_L(bm, cost, x, y, beta=0.5)
    for k in gJ:
        torch.testing.assert_close(gL[k], gJ[k] / 0.5)


def test_exact_refuses_too_many_units():
    bm = te.LayeredBoltzmann([2, 15, 6])
    with pytest.raises(ValueError, match="at most 20 free units.*21"):
        te.exact.log_partition(bm, te.SquaredError(), torch.zeros(1, 2), torch.tensor([0]))

"""Optional torch.compile of the kernels (thermoep.compilation): off by default, falls back to the
eager function with a warning when compiling fails, and gives the eager result when it works
(the last only with THERMOEP_TEST_COMPILE=1: compiling takes a minute or more on a CPU)."""

import os
import warnings

import pytest
import torch

from thermoep import compilation
from thermoep.energies.laws import KERNELS, TanhLaw


@pytest.fixture
def restore():
    before = compilation.enabled()
    yield
    compilation.enable(before)


def _law_mean(seed=0):
    g = torch.Generator().manual_seed(seed)
    field = 3.0 * torch.randn(2, 5, 7, generator=g, dtype=torch.float64)
    law = TanhLaw(field, 0.01, 1.0, 0.0, start=torch.zeros_like(field))
    return law.mean()


def test_off_by_default_runs_the_eager_function(restore, monkeypatch):
    compilation.enable(False)

    def boom(*a, **k):
        raise AssertionError("torch.compile called while compilation is off")

    monkeypatch.setattr(torch, "compile", boom)
    f = compilation.compilable(lambda x: x * 2)
    assert torch.equal(f(torch.ones(3)), 2 * torch.ones(3))


def test_a_failing_compiler_falls_back_to_eager_with_one_warning(restore, monkeypatch):
    eager = _law_mean()

    def broken(fn, **kw):
        def run(*a, **k):
            raise RuntimeError("no C++ compiler")
        return run

    monkeypatch.setattr(torch, "compile", broken)
    newton, mean = KERNELS.newton, KERNELS.hermite_mean
    monkeypatch.setattr(KERNELS, "newton", compilation.compilable(newton.eager))
    monkeypatch.setattr(KERNELS, "hermite_mean", compilation.compilable(mean.eager))
    compilation.enable(True)
    with pytest.warns(RuntimeWarning, match="running it eagerly"):
        first = _law_mean()
    torch.testing.assert_close(first, eager, rtol=0, atol=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # warned once: the failed kernel stays eager
        torch.testing.assert_close(_law_mean(), eager, rtol=0, atol=0)


def test_fixed_step_newton_reaches_the_eager_mode():
    """Under compilation Newton runs all its steps without reading back convergence; the mode
    it returns agrees with the early-stopping one (the tolerance is a step size)."""
    g = 4.0 * torch.randn(3, 50, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    zero = torch.zeros_like(g)
    lo, hi = torch.minimum(g, zero), torch.maximum(g, zero)
    u_eager, far, _, _ = KERNELS.newton.eager(g, 1.0, 0.0, torch.tanh(g), lo, hi, 1e-8)
    assert far is None  # every unit converged
    slope = u_eager - g * (1 - torch.tanh(u_eager) ** 2)
    assert float(slope.abs().max()) < 1e-7


@pytest.mark.skipif(os.environ.get("THERMOEP_TEST_COMPILE") != "1",
                    reason="compiles kernels (minutes on a CPU): THERMOEP_TEST_COMPILE=1")
def test_compiled_kernels_match_eager(restore):
    eager = _law_mean(3)
    compilation.enable(True)
    compiled = _law_mean(3)
    torch.testing.assert_close(compiled, eager, rtol=1e-10, atol=1e-12)

"""Order of the bias in β: ‖ĝ(β) − g_ref‖ ∝ β^k, with k fitted on a log-log grid.

Seed hybrid-ep §2.2: at T = 0, with G(b) = ∂θE(s*_b) smooth in b, Taylor expansion gives

    one-sided  (G(β) − G(0))/β     = G'(0) + β G''(0)/2 + O(β²)     → error O(β)   (eq. 7),
    centered   (G(β) − G(−β))/(2β) = G'(0) + β² G'''(0)/6 + O(β⁴)   → error O(β²)  (eq. 10),

where G'(0) = ∇θ ℓ(s*_0) is the implicit/BPTT gradient. The same expansion in b holds at T > 0
for G(b) = E_{p_b}[∂θE] around ∇θ E_{p_0}[ℓ] (the β → 0 limit of ∇L_β), which
:func:`~thermoep.diagnostics.references.supervised_gradient` computes exactly for enumerable
binary models. The slope k is ``numpy.polyfit(log β, log error, 1)[0]``; it needs estimates whose
noise is far below the bias (a tight relaxation, float64), e.g.
``Relaxation(steps=5000, step_size=0.5, tol=1e-13)`` on β ∈ {0.01, 0.005, 0.0025}.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
import xarray as xr

from ..gradient import Gradient
from ..samplers.relax import Relaxation
from .alignment import EstimatorFactory, _factories
from .dataset import finish
from .snr import _betas

__all__ = ["bias_order", "fit_slope"]


def fit_slope(betas: Sequence[float], errors: Sequence[float]) -> tuple[float, float]:
    """(slope, intercept) of log error = slope · log |β| + intercept (least squares)."""
    b = np.abs(np.asarray(betas, dtype=np.float64))
    e = np.asarray(errors, dtype=np.float64)
    ok = np.isfinite(e) & (e > 0) & (b > 0)
    if ok.sum() < 2:
        return float("nan"), float("nan")
    slope, intercept = np.polyfit(np.log(b[ok]), np.log(e[ok]), 1)
    return float(slope), float(intercept)


def bias_order(energy, cost, x, y, betas: Sequence[float], *,
               estimators: Sequence[str] | Mapping[str, EstimatorFactory] = ("one-sided",
                                                                              "centered"),
               sampler=None, reference: Mapping[str, torch.Tensor] | None = None,
               generator: torch.Generator | None = None) -> xr.Dataset:
    """Error ‖ĝ(β) − reference‖ per estimator over ``betas`` and its fitted log-log slope.

    ``sampler`` defaults to a tight relaxation (continuous units) — pass a Gibbs sampler for a
    binary model; ``reference`` defaults to the supervised gradient at the sampler's temperature
    (implicit ∇ℓ(s*_0) at T = 0, exact ∇E_{p_0}[ℓ] for enumerable binary models).
    Dims (estimator, beta): ``error``, ``relative_error``; (estimator): ``slope``, ``intercept``.
    """
    from .references import supervised_gradient

    betas = _betas(betas)
    if sampler is None:
        if energy.discrete:
            raise ValueError("bias_order on a binary model needs a Monte-Carlo sampler (Gibbs)")
        sampler = Relaxation(steps=5000, step_size=0.5, tol=1e-13)
    relaxation = sampler if getattr(sampler, "deterministic", False) else None
    factories = _factories(energy, estimators, sampler, relaxation, 4)
    if reference is None:
        T = float(getattr(sampler, "temperature", 0.0))
        reference = supervised_gradient(energy, cost, x, y, temperature=T,
                                        relaxation=relaxation)
    names = list(factories)
    err = np.full((len(names), len(betas)), np.nan)
    for i, name in enumerate(names):
        for j, beta in enumerate(betas):
            g = factories[name](beta)(energy, cost, x, y, generator=generator)
            ref = torch.cat([reference[k].reshape(-1) for k in g]).to(g.flat().dtype)
            err[i, j] = float((g.flat() - ref).norm())
    ref = Gradient(dict(reference)).flat()
    fits = [fit_slope(betas, err[i]) for i in range(len(names))]
    rn = float(ref.norm())
    ds = xr.Dataset(
        {"error": (("estimator", "beta"), err),
         "relative_error": (("estimator", "beta"), err / rn if rn > 0 else err * np.nan),
         "slope": ("estimator", np.array([f[0] for f in fits])),
         "intercept": ("estimator", np.array([f[1] for f in fits]))},
        coords={"estimator": names, "beta": np.array(betas)})
    ds["error"].attrs["long_name"] = "‖ĝ(β) − g_ref‖"
    ds["slope"].attrs["long_name"] = "d log error / d log β"
    config = {"energy": energy, "sampler": sampler, "estimators": names, "betas": betas,
              "batch": int(x.shape[0])}
    slopes = ", ".join(f"{n} {f[0]:.2f}" for n, f in zip(names, fits, strict=True))
    return finish(ds, name="bias-order", x="beta", config=config, plot=["error"], logx=True,
                  logy=True, title=f"bias vs β (slopes: {slopes})")

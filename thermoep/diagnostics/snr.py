"""Signal-to-noise ratio of the state perturbation Δs = s_β − s_0 (seed ep-without-limits Fig. 1B).

For each β the free phase and the nudged phase run exactly as the one-sided estimator runs them
(``FiniteNudge``: with ``coupled=True`` both restart from the same initial state and random
stream; otherwise the nudged phase warm-starts from the free one). Per chain c and input b,

    Δs_{c,b} = s̄_{L,c,b}(β) − s̄_{L,c,b}(0)          (time averages over the kept samples),

and over the C chains, with m_b = mean_c Δs_{c,b} and v_b = var_c Δs_{c,b} (unbiased, per unit),

    SNR_i(β) = E_b[m_{b,i}²] / E_b[v_{b,i}]                  (per output unit i),
    SNR(β)   = E_b‖m_b‖² / E_b E_c‖Δs_{c,b} − m_b‖²  = Σ_i E_b[m²] / Σ_i E_b[v]   (aggregated),

i.e. ‖E[Δs]‖² / E‖Δs − E[Δs]‖² for one chain, batch averages taken before the ratio. The plug-in
signal ‖m‖² carries the noise of the mean, tr(v)/C, so the plug-in SNR never falls below ≈ 1/C;
``snr_debiased`` = (‖m‖² − tr(v)/C) / tr(v) removes it (unbiased numerator, may be negative).
At T = 0 (``Relaxation``, ``sampler.deterministic``) Δs has no noise: SNR = +inf.

Independent chains: the noise of Δs does not shrink with β while the signal is O(β), so the SNR
collapses as β² — infinitesimal nudges are "dominated by sampling noise" (Fig. 1B). Common random
numbers cancel the noise both phases share, so the noise of Δs is O(β) too and the SNR stays
bounded (:func:`coupling_comparison`). The same runs give ĝ = FiniteNudge's ∇L_β estimate, whose
standard error (``grad_se`` = ‖stats["se"]‖) grows as 1/β for independent chains.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence

import numpy as np
import torch
import xarray as xr

from ..objectives.one_sided import FiniteNudge
from .dataset import finish
from .recording import PhaseRecorder
from .references import se_norm

__all__ = ["coupling_comparison", "snr_from_delta", "state_snr"]


def _betas(betas: Sequence[float]) -> list[float]:
    out = [float(b) for b in betas]
    if not out:
        raise ValueError("betas must hold at least one nudge, got an empty grid")
    bad = [b for b in out if not math.isfinite(b) or b == 0.0]
    if bad:
        raise ValueError(f"every beta must be finite and non-zero, got {bad}")
    return out


def snr_from_delta(delta: torch.Tensor, *, deterministic: bool = False) -> dict[str, np.ndarray]:
    """SNR statistics of per-chain Δs ``[C, B, n]`` (see module docstring)."""
    if delta.dim() != 3:
        raise ValueError(f"delta must have shape [chains, batch, units], got {list(delta.shape)}")
    d = delta.detach().double()
    C, n = d.shape[0], d.shape[2]
    m = d.mean(0)                                             # [B, n]
    signal_unit = (m ** 2).mean(0)                            # [n]
    if deterministic:
        noise_unit = torch.zeros(n, dtype=d.dtype)
    elif C < 2:
        raise ValueError("the SNR needs a sampler with chains >= 2 (the noise is the spread "
                         f"between chains), got {C}")
    else:
        noise_unit = d.var(0, unbiased=True).mean(0)          # [n]
    signal, noise = float(signal_unit.sum()), float(noise_unit.sum())
    with np.errstate(divide="ignore", invalid="ignore"):
        s_u, n_u = signal_unit.numpy(), noise_unit.numpy()
        snr_unit = np.where(n_u > 0, s_u / np.where(n_u > 0, n_u, 1.0), np.inf)
        if deterministic:
            snr = snr_deb = math.inf
        else:
            snr = signal / noise if noise > 0 else math.inf
            snr_deb = (signal - noise / C) / noise if noise > 0 else math.inf
    return {"snr": snr, "snr_debiased": snr_deb, "signal": signal, "noise": noise,
            "snr_unit": snr_unit, "delta_norm": math.sqrt(signal)}


def state_snr(energy, cost, x, y, sampler, betas: Sequence[float], *,
              generator: torch.Generator | None = None) -> xr.Dataset:
    """SNR of Δs = s_β − s_0 and the standard error of FiniteNudge's ĝ(β) over a β grid.

    Returns a Dataset with dims (beta[, unit]): ``snr``, ``snr_debiased``, ``signal``, ``noise``,
    ``snr_unit`` (beta, unit), ``grad_se`` (‖SE of ĝ‖), ``grad_norm`` (‖ĝ‖), ``grad_rel_se``.
    """
    betas = _betas(betas)
    rows = []
    for beta in betas:
        rec = PhaseRecorder(FiniteNudge(sampler, beta))
        g = rec(energy, cost, x, y, generator=generator)
        stats = snr_from_delta(rec.delta(beta), deterministic=rec.deterministic)
        gn = float(g.flat().norm())
        se = se_norm(g)
        stats.update(grad_se=se, grad_norm=gn, grad_rel_se=se / gn if gn > 0 else math.nan)
        rows.append(stats)
    n_out = energy.layer_sizes[energy.output]
    scalars = ("snr", "snr_debiased", "signal", "noise", "delta_norm", "grad_se", "grad_norm",
               "grad_rel_se")
    data = {k: ("beta", np.array([r[k] for r in rows], dtype=np.float64)) for k in scalars}
    data["snr_unit"] = (("beta", "unit"), np.stack([r["snr_unit"] for r in rows]))
    ds = xr.Dataset(data, coords={"beta": np.array(betas), "unit": np.arange(n_out)})
    ds["snr"].attrs["long_name"] = "‖E Δs‖² / E‖Δs − E Δs‖² (one chain)"
    ds["grad_se"].attrs["long_name"] = "‖standard error‖ of FiniteNudge ∇L_β"
    config = {"energy": energy, "sampler": sampler, "temperature": sampler.temperature,
              "chains": getattr(sampler, "chains", 1), "coupled": getattr(sampler, "coupled",
                                                                           False),
              "batch": int(x.shape[0]), "betas": betas, "estimator": "finite-nudge"}
    return finish(ds, name="snr", x="beta", config=config, plot=["snr", "grad_rel_se"],
                  logx=True, logy=True, title=f"SNR of Δs vs β (T={sampler.temperature})")


def coupling_comparison(energy, cost, x, y, sampler, betas: Sequence[float], *,
                        generator: torch.Generator | None = None) -> xr.Dataset:
    """:func:`state_snr` for ``coupled=False`` and ``coupled=True`` copies of a Monte-Carlo
    ``sampler`` (same chains, steps, burn-in: same budget); dims (coupling, beta[, unit])."""
    if getattr(sampler, "deterministic", False) or not hasattr(sampler, "coupled"):
        raise ValueError(f"coupling needs a Monte-Carlo sampler (Langevin or Gibbs), got "
                         f"{sampler!r}: at T = 0 there is no noise to couple")
    parts = []
    for coupled in (False, True):
        s = copy.copy(sampler)
        s.coupled = coupled
        parts.append(state_snr(energy, cost, x, y, s, betas, generator=generator))
    ds = xr.concat(parts, dim="coupling", combine_attrs="override")
    ds = ds.assign_coords(coupling=["independent", "coupled"])
    config = {"energy": energy, "sampler": sampler, "temperature": sampler.temperature,
              "chains": sampler.chains, "batch": int(x.shape[0]), "betas": _betas(betas),
              "estimator": "finite-nudge", "couplings": ["independent", "coupled"]}
    return finish(ds, name="snr-coupling", x="beta", config=config,
                  plot=["snr", "grad_rel_se"], logx=True, logy=True,
                  title=f"SNR of Δs vs β: independent vs coupled chains (T={sampler.temperature})")

"""Markov-chain health per phase: ESS, split R-hat, autocorrelation, acceptance, residual.

Every Monte-Carlo phase keeps the batch-averaged traces of the energy E(s_t) and the cost ℓ(s_t)
for each chain, ``[C, S]`` (samplers/base.py). From them (``pyro.ops.stats``, chain_dim=0,
sample_dim=1):

* effective sample size ESS (Geyer's initial monotone sequence over the C chains) and the
  integrated autocorrelation time τ = C·S / ESS (in kept samples);
* split R-hat (Gelman–Rubin on half-chains; ≈ 1 when the chains agree — it flags a burn-in too
  short for the nudged phase to forget its start, the warm start of seed ep-without-limits §4);
* the normalised autocorrelation ρ(k) = Cov(tr_t, tr_{t+k}) / Var(tr), averaged over chains;
* the MALA acceptance rate, and for the T = 0 relaxation the final residual ‖Δs‖/η (the
  projected-gradient norm; the fixed point is reached when it is ≈ 0).

:func:`summarise_chains` reads either an estimator's :class:`~thermoep.Gradient` (its ``stats``
already carry ``free_ess``, ``free_rhat``, ``free_acceptance``, ``free_residual`` and the same per
nudged phase, for the cost trace) or the phases themselves (both traces and the autocorrelation);
:func:`chain_diagnostics` runs an estimator over a β grid and stacks the summaries.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence

import numpy as np
import torch
import xarray as xr

from ..gradient import Gradient
from ..objectives import ESTIMATORS
from ..samplers.base import Phase
from .dataset import finish
from .recording import PhaseRecorder, RecordedPhase
from .snr import _betas

__all__ = ["chain_diagnostics", "summarise_chains", "trace_statistics"]

TRACES = ("cost", "energy")
_STAT = re.compile(r"^(free|nudge[+-][^_]+)_(.+)$")


def trace_statistics(trace: torch.Tensor, max_lag: int = 30) -> dict[str, object]:
    """ESS, split R-hat, τ and the chain-averaged autocorrelation (lags 0..max_lag) of ``[C, S]``.

    Undefined values (one chain, fewer than 4 samples, a constant trace) are NaN.
    """
    from pyro.ops.stats import autocorrelation, effective_sample_size, split_gelman_rubin

    acf = np.full(max_lag + 1, math.nan)
    out: dict[str, object] = {"ess": math.nan, "rhat": math.nan, "tau": math.nan, "acf": acf}
    tr = trace.detach().double().cpu()
    if tr.dim() != 2:
        raise ValueError(f"a trace must have shape [chains, samples], got {list(tr.shape)}")
    C, S = tr.shape
    if S >= 2 and float(tr.std()) > 0:
        rho = autocorrelation(tr, dim=1).mean(0)
        k = min(max_lag + 1, S)
        acf[:k] = rho[:k].numpy()
    if C < 2 or S < 4 or float(tr.std()) == 0.0:
        return out
    ess = float(effective_sample_size(tr, chain_dim=0, sample_dim=1))
    out.update(ess=ess, rhat=float(split_gelman_rubin(tr, chain_dim=0, sample_dim=1)),
               tau=C * S / ess if ess > 0 else math.nan)
    return out


def _from_phases(phases, max_lag: int) -> tuple[list[float], list[dict]]:
    if isinstance(phases, PhaseRecorder):
        phases = phases.phases
    if isinstance(phases, Mapping):
        items = [(float(b), p) for b, p in phases.items()]
    elif isinstance(phases, Sequence):
        items = [(float(p.nudge), p) for p in phases]
    else:
        raise TypeError("summarise_chains needs a Gradient, a PhaseRecorder, a mapping nudge → "
                        f"Phase or a list of phases; got {type(phases).__name__}")
    nudges, rows = [], []
    for b, p in items:
        p = p.phase if isinstance(p, RecordedPhase) else p
        if not isinstance(p, Phase):
            raise TypeError(f"expected Phase objects, got {type(p).__name__}")
        row: dict = {"acceptance": p.info.get("acceptance", math.nan),
                     "residual": p.info.get("residual", math.nan),
                     "samples": p.info.get("samples", math.nan)}
        for name in TRACES:
            tr = p.trace.get(name)
            st = trace_statistics(tr, max_lag) if tr is not None else \
                trace_statistics(torch.zeros(1, 1), max_lag)
            for k, v in st.items():
                row[f"{k}_{name}"] = v
        nudges.append(b)
        rows.append(row)
    return nudges, rows


def _from_gradient(g: Gradient, max_lag: int) -> tuple[list[float], list[dict]]:
    found: dict[str, dict] = {}
    for key, value in g.stats.items():
        m = _STAT.match(key)
        if m and isinstance(value, (int, float)):
            found.setdefault(m.group(1), {})[m.group(2)] = float(value)
    if not found:
        raise ValueError("this Gradient carries no per-phase statistics (free_*, nudge*_*); "
                         "references have none — pass an estimator's result")
    nudges, rows = [], []
    for tag, st in found.items():
        b = 0.0 if tag == "free" else float(tag[len("nudge"):])
        row = {"acceptance": st.get("acceptance", math.nan),
               "residual": st.get("residual", math.nan), "samples": st.get("samples", math.nan)}
        for name in TRACES:
            known = name == "cost"  # the estimator's stats cover the cost trace only
            row[f"ess_{name}"] = st.get("ess", math.nan) if known else math.nan
            row[f"rhat_{name}"] = st.get("rhat", math.nan) if known else math.nan
            row[f"tau_{name}"] = math.nan  # needs the chain count, which stats do not keep
            row[f"acf_{name}"] = np.full(max_lag + 1, math.nan)
        nudges.append(b)
        rows.append(row)
    return nudges, rows


def _dataset(labels: list[str], nudges: list[float], rows: list[dict], max_lag: int
             ) -> xr.Dataset:
    def stack(key):
        return np.array([[r[f"{key}_{t}"] for t in TRACES] for r in rows], dtype=np.float64)

    data = {
        "ess": (("phase", "trace"), stack("ess")),
        "rhat": (("phase", "trace"), stack("rhat")),
        "tau": (("phase", "trace"), stack("tau")),
        "autocorr": (("phase", "trace", "lag"),
                     np.array([[r[f"acf_{t}"] for t in TRACES] for r in rows], np.float64)),
        "acceptance": ("phase", np.array([r["acceptance"] for r in rows], np.float64)),
        "residual": ("phase", np.array([r["residual"] for r in rows], np.float64)),
        "samples": ("phase", np.array([r["samples"] for r in rows], np.float64)),
    }
    coords = {"phase": labels, "nudge": ("phase", np.array(nudges, np.float64)),
              "trace": list(TRACES), "lag": np.arange(max_lag + 1)}
    return xr.Dataset(data, coords=coords)


def _plot_vars(ds: xr.Dataset) -> list[str]:
    if np.isfinite(ds["ess"].values).any():
        keep = ["ess", "rhat"]
        if np.isfinite(ds["acceptance"].values).any():
            keep.append("acceptance")
        return keep
    return ["residual"]


def summarise_chains(gradient_or_phases, *, max_lag: int = 30) -> xr.Dataset:
    """Per-phase chain statistics of one estimate; dims (phase[, trace, lag]), x = ``nudge``."""
    if isinstance(gradient_or_phases, Gradient):
        nudges, rows = _from_gradient(gradient_or_phases, max_lag)
    else:
        nudges, rows = _from_phases(gradient_or_phases, max_lag)
    labels = ["free" if b == 0.0 else f"b={b:+.4g}" for b in nudges]
    ds = _dataset(labels, nudges, rows, max_lag)
    return finish(ds, name="chains", x="nudge", config={"max_lag": max_lag},
                  plot=_plot_vars(ds), logy=True, title="chain statistics per phase")


def chain_diagnostics(energy, cost, x, y, sampler, betas: Sequence[float], *,
                      estimator: str = "finite-nudge", nodes: int = 4, max_lag: int = 30,
                      generator: torch.Generator | None = None) -> xr.Dataset:
    """Run ``estimator`` with ``sampler`` at each β and summarise every phase it ran.

    Dims (beta, phase[, trace, lag]); phases are labelled by run order (``free``, ``nudge1``,
    ``nudge2``, ...), with the actual nudge b in the coordinate ``nudge`` (beta, phase).
    """
    betas = _betas(betas)
    if estimator not in ESTIMATORS or estimator == "backprop":
        raise ValueError(f"unknown estimator {estimator!r}; choose one of "
                         f"{sorted(k for k in ESTIMATORS if k != 'backprop')}")
    parts = []
    for beta in betas:
        cls = ESTIMATORS[estimator]
        est = cls(sampler, beta, nodes=nodes) if estimator == "path-integral" else \
            cls(sampler, beta)
        rec = PhaseRecorder(est)
        rec(energy, cost, x, y, generator=generator)
        nudges, rows = _from_phases(rec.phases, max_lag)
        labels = ["free" if b == 0.0 else f"nudge{i}" for i, b in enumerate(nudges)]
        part = _dataset(labels, nudges, rows, max_lag)
        parts.append(part)
    ds = xr.concat(parts, dim=xr.DataArray(np.array(betas), dims="beta", name="beta"),
                   join="outer")
    config = {"energy": energy, "sampler": sampler, "estimator": estimator, "betas": betas,
              "batch": int(x.shape[0]), "max_lag": max_lag}
    return finish(ds, name="chains", x="beta", config=config, plot=_plot_vars(ds), logx=True,
                  logy=True, title=f"chain statistics vs β ({estimator}, "
                                   f"T={getattr(sampler, 'temperature', 0.0)})")

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

Observers of one's own (``observers=`` of :func:`chain_diagnostics`) run in every phase beside
these traces. A value that is a trace, ``[chains, samples]``, gets the same statistics under its
own ``trace`` coordinate value (the observer's name) and is kept whole as the variable of that
name, dims (phase, chain, sample); any other number or numeric tensor is kept as a variable
(dims phase[, chain][, <name>_dim1, ...]); a mapping of them gives one per key
(``<name>_<key>``). Anything else is refused, naming the observer.

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
#: names an observer of one's own cannot take: the estimators' and the recorder's observers, and
#: the variables and coordinates of the chain-statistics Dataset
RESERVED = frozenset({
    "param_grad", "covariance", "output", "cost", "cost_trace", "energy_trace", "output_chains",
    *TRACES, "ess", "rhat", "tau", "autocorr", "acceptance", "residual", "samples", "beta",
    "phase", "nudge", "trace", "lag", "chain", "sample"})


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


def _from_phases(phases, max_lag: int, observers=()) -> tuple[list[float], list[dict]]:
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
                     "samples": p.info.get("samples", math.nan),
                     "chains": p.info.get("chains", 0.0)}
        for name in TRACES:
            tr = p.trace.get(name)
            st = trace_statistics(tr, max_lag) if tr is not None else \
                trace_statistics(torch.zeros(1, 1), max_lag)
            for k, v in st.items():
                row[f"{k}_{name}"] = v
        row["observed"] = {}
        for o in observers:
            if o.name not in p.observed:  # a phase run for the objective alone
                continue
            for label, kind, value in _observed(o.name, p.observed[o.name], p.info):
                row["observed"][label] = (kind, value, o.name)
                if kind == "trace":
                    for k, v in trace_statistics(torch.as_tensor(value), max_lag).items():
                        row[f"{k}_{label}"] = v
        nudges.append(b)
        rows.append(row)
    return nudges, rows


def _check_observers(observers) -> list:
    """``observers`` as a list, each checked: the protocol (start, update, finish and a
    ``name``), names unique and none that the phases or the Dataset already use."""
    observers = list(observers or ())
    for o in observers:
        if isinstance(o, type) or not all(callable(getattr(o, m, None))
                                          for m in ("start", "update", "finish")):
            raise TypeError(f"{o!r} is not an observer (an object with start, update and finish: "
                            "thermoep.observers.Observer); pass instances, not classes")
        if not isinstance(getattr(o, "name", None), str) or not o.name:
            raise TypeError(f"observer {o!r} needs a non-empty str name, got "
                            f"{getattr(o, 'name', None)!r}")
        if o.name in RESERVED:
            raise ValueError(f"observer {o!r}: the name {o.name!r} is taken by the phases' own "
                             "observers or the Dataset's variables (the cost and energy traces "
                             "are always summarised); give it another name")
    names = [o.name for o in observers]
    if len(set(names)) != len(names):
        raise ValueError(f"observer names must be unique, got {names}")
    return observers


def _observed(observer: str, value, info, label: str | None = None, key: str = ""
              ) -> list[tuple[str, str, np.ndarray]]:
    """``[(label, "trace" | "value", array)]`` for what ``observer`` returned in a phase."""
    label = observer if label is None else label
    if isinstance(value, Mapping):
        out = []
        for k, v in value.items():
            out += _observed(observer, v, info, f"{label}_{k}", f"{key}[{k!r}]")
        return out
    chains, samples = max(int(info.get("chains", 0)), 1), int(info.get("samples", 0))
    array = _numeric(value)
    if array is None:
        what = "None" if value is None else f"a {type(value).__name__}"
        if isinstance(value, (torch.Tensor, np.ndarray)):
            what += f" of dtype {value.dtype}"
        raise TypeError(
            f"observer {observer!r} returned {what}{' at ' + key if key else ''}: the chain "
            "diagnostics record a trace [chains, samples], a number, a real tensor, or a "
            "mapping of them")
    kind = "trace" if array.shape == (chains, samples) else "value"
    return [(label, kind, array)]


def _numeric(value) -> np.ndarray | None:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu()
        if value.is_complex():
            return None
        return value.double().numpy()
    if isinstance(value, (bool, int, float, np.bool_, np.integer, np.floating)):
        return np.asarray(value, dtype=np.float64)
    if isinstance(value, np.ndarray) and (np.issubdtype(value.dtype, np.integer) or
                                          np.issubdtype(value.dtype, np.floating) or
                                          value.dtype == np.bool_):
        return value.astype(np.float64)
    return None


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
    observed = _observed_layout(rows)
    traces = [*TRACES, *(k for k, (kind, _) in observed.items() if kind == "trace")]

    def stack(key):
        return np.array([[r.get(f"{key}_{t}", math.nan) for t in traces] for r in rows],
                        dtype=np.float64)

    nan_acf = np.full(max_lag + 1, math.nan)
    data = {
        "ess": (("phase", "trace"), stack("ess")),
        "rhat": (("phase", "trace"), stack("rhat")),
        "tau": (("phase", "trace"), stack("tau")),
        "autocorr": (("phase", "trace", "lag"),
                     np.array([[r.get(f"acf_{t}", nan_acf) for t in traces] for r in rows],
                              np.float64)),
        "acceptance": ("phase", np.array([r["acceptance"] for r in rows], np.float64)),
        "residual": ("phase", np.array([r["residual"] for r in rows], np.float64)),
        "samples": ("phase", np.array([r["samples"] for r in rows], np.float64)),
    }
    for label, (kind, dims) in observed.items():
        data[label] = _observed_variable(label, kind, dims, rows)
    coords = {"phase": labels, "nudge": ("phase", np.array(nudges, np.float64)),
              "trace": traces, "lag": np.arange(max_lag + 1)}
    return xr.Dataset(data, coords=coords)


def _observed_layout(rows: list[dict]) -> dict[str, tuple[str, tuple[str, ...]]]:
    """Per observed label, its kind and dims (without ``phase``), the same in every phase."""
    layout: dict[str, tuple[str, tuple[str, ...]]] = {}
    for r in rows:
        chains = int(r["chains"]) if "chains" in r else 0
        for label, (kind, value, _) in r.get("observed", {}).items():
            if kind == "trace":
                dims: tuple[str, ...] = ("chain", "sample")
            else:
                dims = tuple("chain" if i == 0 and chains > 0 and n == chains else
                             f"{label}_dim{i}" for i, n in enumerate(value.shape))
            if label in RESERVED:
                raise ValueError(f"an observed value is named {label!r}, which the Dataset "
                                 "already uses: rename the observer or its key")
            if layout.setdefault(label, (kind, dims)) != (kind, dims):
                raise ValueError(f"{label!r} changed between phases (a {layout[label][0]} with "
                                 f"dims {layout[label][1]}, then a {kind} with dims {dims}): the "
                                 "chain diagnostics need one shape in every phase")
    return layout


def _observed_variable(label, kind, dims, rows):
    """The label's values stacked over phases (NaN where a phase did not run it, or padded)."""
    found = [r.get("observed", {}).get(label) for r in rows]
    values = [None if f is None else f[1] for f in found]
    observer = next(f[2] for f in found if f is not None)
    shape = [max((v.shape[i] for v in values if v is not None), default=0)
             for i in range(len(dims))]
    out = np.full([len(rows), *shape], math.nan)
    for i, v in enumerate(values):
        if v is not None:
            out[(i, *(slice(0, n) for n in v.shape))] = v
    return ("phase", *dims), out, {"observer": observer, "kind": kind}


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
                      observers: Sequence = (),
                      generator: torch.Generator | None = None) -> xr.Dataset:
    """Run ``estimator`` with ``sampler`` at each β and summarise every phase it ran.

    Dims (beta, phase[, trace, lag]); phases are labelled by run order (``free``, ``nudge1``,
    ``nudge2``, ...), with the actual nudge b in the coordinate ``nudge`` (beta, phase).
    ``observers``: observers of one's own (instances; ``start`` resets, so each serves every
    phase), run beside the traces; what they return is summarised as the module docstring says
    (a trace's ESS and R-hat under ``trace=<name>``, the trace itself as ``ds[<name>]``).
    """
    betas = _betas(betas)
    observers = _check_observers(observers)
    if estimator not in ESTIMATORS or estimator == "backprop":
        raise ValueError(f"unknown estimator {estimator!r}; choose one of "
                         f"{sorted(k for k in ESTIMATORS if k != 'backprop')}")
    parts = []
    for beta in betas:
        cls = ESTIMATORS[estimator]
        est = cls(sampler, beta, nodes=nodes) if estimator == "path-integral" else \
            cls(sampler, beta)
        rec = PhaseRecorder(est, observers=observers)
        rec(energy, cost, x, y, generator=generator)
        nudges, rows = _from_phases(rec.phases, max_lag, observers)
        labels = ["free" if b == 0.0 else f"nudge{i}" for i, b in enumerate(nudges)]
        part = _dataset(labels, nudges, rows, max_lag)
        parts.append(part)
    ds = xr.concat(parts, dim=xr.DataArray(np.array(betas), dims="beta", name="beta"),
                   join="outer")
    config = {"energy": energy, "sampler": sampler, "estimator": estimator, "betas": betas,
              "batch": int(x.shape[0]), "max_lag": max_lag}
    if observers:
        config["observers"] = observers
    return finish(ds, name="chains", x="beta", config=config, plot=_plot_vars(ds), logx=True,
                  logy=True, title=f"chain statistics vs β ({estimator}, "
                                   f"T={getattr(sampler, 'temperature', 0.0)})")

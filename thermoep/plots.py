"""PNG figures from result Datasets (results.py schema, docs/design.md §5).

Figures are drawn on a standalone ``matplotlib.figure.Figure`` rendered by Agg, so nothing touches
pyplot's global state or the user's backend, at import time or later.
"""

from __future__ import annotations

import itertools
import os
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from .results import check_writable

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

DPI = 120
TITLE_SIZE = 11  # points
_CHAR_WIDTH = 0.6  # DejaVu Sans' mean character width, in ems (a little over, to be safe)
SWEEP_DIMS = ("estimator", "beta", "seed")
_TITLE_KEYS = ("estimator", "sampler", "energy", "dataset", "beta", "temperature", "seed")

__all__ = ["plot_any", "plot_compare", "plot_curves", "plot_run", "plot_sweep"]


def _figure(ncols: int = 1) -> tuple[Figure, list[Axes]]:
    """A new Agg-rendered figure with ``ncols`` axes side by side."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.0 * ncols, 4.0), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, ncols, squeeze=False)[0]
    return fig, list(axes)


def _save(fig: Figure, path: str | os.PathLike) -> Path:
    """Save as PNG and release the figure."""
    path = check_writable(path)
    try:
        fig.savefig(path, format="png", dpi=DPI)
    finally:
        fig.clear()
    return path


def _title(ds: xr.Dataset) -> str:
    """"name" over "key=value, ..." from the dataset's attrs."""
    parts = [f"{k}={ds.attrs[k]}" for k in _TITLE_KEYS if k in ds.attrs and k not in ds.dims]
    name = str(ds.attrs.get("name", ""))
    return "\n".join(p for p in (name, ", ".join(parts)) if p)


def _suptitle(fig: Figure, text: str) -> None:
    """The figure's title, each line wrapped to the figure's width so none is clipped."""
    chars = max(20, int(fig.get_figwidth() * 72 / (TITLE_SIZE * _CHAR_WIDTH)))
    lines = [textwrap.fill(line, chars, break_on_hyphens=False) for line in text.splitlines()]
    fig.suptitle("\n".join(lines), fontsize=TITLE_SIZE)


def _set_xscale(ax: Axes, values: np.ndarray, log: bool) -> None:
    """Log x-axis (symlog if there are non-positive values) when ``log`` is true."""
    if not log:
        return
    values = np.asarray(values, dtype=float)
    positive = values[np.isfinite(values) & (values > 0)]
    if positive.size and np.all(values[np.isfinite(values)] > 0):
        ax.set_xscale("log")
    elif positive.size:
        ax.set_xscale("symlog", linthresh=float(positive.min()))


def _spans_decade(values: np.ndarray) -> bool:
    positive = np.asarray(values, dtype=float)
    positive = positive[np.isfinite(positive) & (positive > 0)]
    return positive.size > 1 and positive.max() / positive.min() > 10.0


def _lines(da: xr.DataArray, x: str) -> list[tuple[str, xr.DataArray]]:
    """Split ``da`` into 1-D lines along ``x``: one per combination of the other dims' values."""
    others = [d for d in da.dims if d != x]
    lines = []
    for idx in itertools.product(*(range(da.sizes[d]) for d in others)):
        sel = dict(zip(others, idx, strict=True))
        values = {d: (da[d].values[i] if d in da.coords else i) for d, i in sel.items()}
        if len(values) == 1:
            label = str(next(iter(values.values())))
        else:
            label = ", ".join(f"{d}={v}" for d, v in values.items())
        lines.append((label, da.isel(sel)))
    return lines


def _final(da: xr.DataArray) -> xr.DataArray:
    """The last non-NaN value along ``epoch`` (runs of different lengths are NaN padded)."""
    valid = da.notnull()
    steps = xr.DataArray(np.arange(da.sizes["epoch"]), dims="epoch")
    last = (valid * steps).max("epoch")
    return da.isel(epoch=last)


def _has(ds: xr.Dataset, name: str) -> bool:
    return name in ds.data_vars and bool(np.isfinite(np.asarray(ds[name].values,
                                                                dtype=float)).any())


def plot_run(ds: xr.Dataset, path: str | os.PathLike) -> Path:
    """1×2 figure: train/test accuracy vs epoch and train/test loss vs epoch; a third panel, the
    objective J_β = F_β − F_0 (± its standard error), when the run recorded it."""
    extra = {d: n for d, n in ds.sizes.items() if d != "epoch"}
    if "epoch" not in ds.dims or any(n > 1 for n in extra.values()):
        raise ValueError(
            f"plot_run needs a single run with dim 'epoch' only, got dims {dict(ds.sizes)}; "
            "use plot_sweep for sweeps"
        )
    ds = ds.isel({d: 0 for d in extra})
    objective = _has(ds, "objective")
    fig, axes = _figure(3 if objective else 2)
    acc, loss = axes[:2]
    epoch = ds["epoch"].values
    for ax, kind in ((acc, "accuracy"), (loss, "loss")):
        drawn = False
        for split in ("train", "test"):
            name = f"{split}_{kind}"
            if name in ds.data_vars:
                ax.plot(epoch, ds[name].values, marker="o", markersize=3, label=split)
                drawn = True
        if drawn:
            ax.legend()
        else:
            ax.text(0.5, 0.5, f"no {kind} recorded", ha="center", va="center",
                    transform=ax.transAxes)
        ax.set_xlabel("epoch")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.set_ylabel(kind)
        ax.grid(alpha=0.3)
    if objective:
        _plot_objective(axes[2], ds)
    _suptitle(fig, _title(ds) or "run")
    return _save(fig, path)


def _plot_objective(ax: Axes, ds: xr.Dataset) -> None:
    """J_β per epoch, with a ±2 SE band where ``objective_se`` was recorded."""
    epoch = ds["epoch"].values
    value = np.asarray(ds["objective"].values, dtype=float)
    ax.plot(epoch, value, marker="o", markersize=3, color="C2", label="J_β (train batches)")
    if _has(ds, "objective_se"):
        se = np.asarray(ds["objective_se"].values, dtype=float)
        ax.fill_between(epoch, value - 2 * se, value + 2 * se, color="C2", alpha=0.2,
                        label="± 2 SE")
    ax.legend()
    ax.set_xlabel("epoch")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_ylabel("objective J_β = F_β − F_0")
    ax.grid(alpha=0.3)


def plot_sweep(ds: xr.Dataset, path: str | os.PathLike, *, var: str = "test_accuracy") -> Path:
    """Final-epoch ``var`` vs beta, one line per estimator (mean ± std over seed if present).

    Without a beta dim, plots ``var`` vs epoch instead. The x-axis is logarithmic when the positive
    betas span more than one decade.
    """
    if var not in ds.data_vars:
        raise ValueError(f"plot_sweep needs variable {var!r}; present: {sorted(ds.data_vars)}")
    da = ds[var]
    if "epoch" not in da.dims:
        raise ValueError(f"{var!r} has no 'epoch' dim (dims: {da.dims})")
    x = "beta" if "beta" in da.dims else "epoch"
    if x == "beta":
        da = _final(da)
    if "seed" in da.dims:
        mean, std = da.mean("seed", skipna=True), da.std("seed", skipna=True)
        show_std = da.sizes["seed"] > 1
    else:
        mean, std, show_std = da, xr.zeros_like(da), False
    fig, (ax,) = _figure(1)
    lines = list(zip(_lines(mean, x), _lines(std, x), strict=True))
    for (label, m), (_, s) in lines:
        xs = m[x].values
        order = np.argsort(xs, kind="stable")
        ys, es = m.values[order], s.values[order]
        ax.plot(xs[order], ys, marker="o", markersize=4, label=label or var)
        if show_std:
            ax.fill_between(xs[order], ys - es, ys + es, alpha=0.2)
    if x == "beta":
        _set_xscale(ax, mean["beta"].values, _spans_decade(mean["beta"].values))
    ax.set_xlabel("β" if x == "beta" else "epoch")
    if x == "epoch":
        ax.xaxis.get_major_locator().set_params(integer=True)
    ylabel = f"final {var}" if x == "beta" else var
    ax.set_ylabel(ylabel + (" (mean ± std over seeds)" if show_std else ""))
    if len(lines) > 1 or "estimator" in mean.dims:
        ax.legend()
    ax.grid(alpha=0.3)
    _suptitle(fig, _title(ds) or "sweep")
    return _save(fig, path)


def plot_curves(
    ds: xr.Dataset,
    path: str | os.PathLike,
    *,
    x: str,
    y: Sequence[str],
    logx: bool = False,
    logy: bool = False,
    title: str | None = None,
) -> Path:
    """Generic line plot of variables ``y`` against coordinate ``x`` (e.g. x="beta", y=["snr"]).

    A y variable with extra dims (e.g. ``estimator``) gets one line per value.
    """
    if isinstance(y, str):
        y = [y]
    if not y:
        raise ValueError("plot_curves needs at least one y variable")
    if x not in ds.dims:
        if x in ds.variables and ds[x].ndim == 1:
            ds = ds.swap_dims({ds[x].dims[0]: x})
        else:
            raise ValueError(f"x={x!r} is not a dim or 1-D coordinate; dims: {tuple(ds.dims)}")
    missing = [name for name in y if name not in ds.variables]
    if missing:
        raise ValueError(f"variables {missing} not in dataset; present: {sorted(ds.data_vars)}")
    fig, (ax,) = _figure(1)
    n_lines = 0
    for name in y:
        da = ds[name]
        if x not in da.dims:
            raise ValueError(f"variable {name!r} does not vary along {x!r} (dims: {da.dims})")
        for label, line in _lines(da, x):
            xs = line[x].values
            order = np.argsort(xs, kind="stable")
            text = f"{name} ({label})" if label and len(y) > 1 else (label or name)
            ax.plot(xs[order], line.values[order], marker="o", markersize=3, label=text)
            n_lines += 1
    _set_xscale(ax, ds[x].values, logx)
    values = np.concatenate([np.asarray(ds[n].values, dtype=float).ravel() for n in y])
    if logy and np.any(np.isfinite(values) & (values > 0)):  # e.g. SNR = inf at T = 0
        ax.set_yscale("log")
    ax.set_xlabel(x)
    ax.set_ylabel(y[0] if len(y) == 1 else "value")
    if n_lines > 8:  # many lines (e.g. phases × traces): the legend beside the axes, not on them
        fig.set_size_inches(9.0, max(4.0, 0.16 * n_lines + 1.0))
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize="small")
    elif n_lines > 1:
        ax.legend()
    ax.grid(alpha=0.3)
    _suptitle(fig, title if title is not None else (_title(ds) or ", ".join(y)))
    return _save(fig, path)


def plot_compare(runs: Mapping[str, xr.Dataset], path: str | os.PathLike, *,
                 var: str = "test_accuracy", title: str | None = None,
                 groups: Mapping[str, Sequence[str]] | None = None) -> Path:
    """Overlay ``var`` against epoch for several runs, one labelled line per run.

    ``runs`` maps a label to a single run (dim ``epoch`` only, e.g. from
    `results.split_runs`); runs without ``var`` are refused. ``groups`` (a label → the labels of
    its runs, e.g. the seeds of one configuration) draws each group in one colour: its runs as
    thin lines and, for two runs or more, their mean over the epochs they share as a bold one.
    """
    if not runs:
        raise ValueError("plot_compare needs at least one run, got none")
    for label, run in runs.items():
        if set(run.dims) != {"epoch"}:
            raise ValueError(f"run {label!r} must have dim 'epoch' only, got {dict(run.sizes)}")
        if var not in run.data_vars:
            raise ValueError(f"run {label!r} has no {var!r}; present: {sorted(run.data_vars)}")
    if groups is None:
        groups = {label: [label] for label in runs}
    listed = [m for members in groups.values() for m in members]
    unknown = sorted(set(listed) - set(runs))
    twice = sorted({m for m in listed if listed.count(m) > 1})
    missing = sorted(set(runs) - set(listed))
    if unknown or twice or missing:
        raise ValueError("groups must hold every run once: "
                         + "; ".join(f"{what} {names}" for what, names in (
                             ("not runs:", unknown), ("in two groups:", twice),
                             ("in no group:", missing)) if names))
    fig, (ax,) = _figure(1)
    # the legend sits beside the axes: widen for it
    longest = max(len(label) + (14 if len(members) > 1 else 0)
                  for label, members in groups.items())
    fig.set_figwidth(5.0 + min(0.075 * longest, 7.0))
    for colour, (label, members) in enumerate(groups.items()):
        if len(members) == 1:
            run = runs[members[0]]
            ax.plot(run["epoch"].values, run[var].values, marker="o", markersize=3, label=label,
                    color=f"C{colour % 10}")
            continue
        for member in members:
            run = runs[member]
            ax.plot(run["epoch"].values, run[var].values, color=f"C{colour % 10}", alpha=0.35,
                    linewidth=0.8, label=f"_{member}")
        shared = xr.concat([runs[m][var] for m in members], "run", join="inner")
        ax.plot(shared["epoch"].values, shared.mean("run").values, marker="o", markersize=3,
                linewidth=2.0, color=f"C{colour % 10}", label=f"{label} (mean of {len(members)})")
    ax.set_xlabel("epoch")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_ylabel(var.replace("_", " "))
    ax.grid(alpha=0.3)
    # beside the axes, so many runs never hide the curves
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize="small", frameon=False)
    _suptitle(fig, title if title is not None else f"{var} of {len(runs)} runs")
    return _save(fig, path)


def _truthy(value: Any) -> bool:
    """attrs flags come back from netCDF as ints or strings."""
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes")
    return bool(value)


def plot_any(ds: xr.Dataset, path: str | os.PathLike) -> Path:
    """Pick the plot for ``ds``: diagnostic → plot_curves, sweep → plot_sweep, run → plot_run."""
    if ds.attrs.get("kind") == "diagnostic":
        if "x" not in ds.attrs:
            raise ValueError("diagnostic dataset needs attrs['x'] naming its x coordinate")
        x = str(ds.attrs["x"])
        x_dim = ds[x].dims[0] if x in ds.variables and ds[x].ndim == 1 else x
        y = [k for k, v in ds.data_vars.items()
             if x_dim in v.dims and k != x and np.issubdtype(v.dtype, np.number)]
        chosen = [v for v in str(ds.attrs.get("plot", "")).split(",") if v in y]
        y = chosen or y  # a diagnostic may name the variables worth drawing
        return plot_curves(
            ds, path, x=x, y=y, logx=_truthy(ds.attrs.get("logx", False)),
            logy=_truthy(ds.attrs.get("logy", False)), title=ds.attrs.get("title"),
        )
    if "epoch" in ds.dims and any(d in ds.dims for d in SWEEP_DIMS):
        return plot_sweep(ds, path)
    if set(ds.dims) == {"epoch"}:
        return plot_run(ds, path)
    raise ValueError(
        f"don't know how to plot a dataset with dims {tuple(ds.dims)} and "
        f"kind={ds.attrs.get('kind')!r}; expected 'epoch' (run), 'epoch' with any of {SWEEP_DIMS} "
        "(sweep), or attrs kind='diagnostic' with attrs x"
    )

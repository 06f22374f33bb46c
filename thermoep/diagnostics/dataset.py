"""The diagnostic Dataset convention: attrs that ``thermoep.plots.plot_any`` reads, and the plot.

Every diagnostic returns an ``xarray.Dataset`` whose dims are among ``beta``, ``estimator``,
``unit``, ``epoch``, ``seed`` (plus a few specific ones: ``coupling``, ``phase``, ``trace``,
``lag``, ``chain``, ``sample``), with attrs

* ``kind = "diagnostic"`` and ``x`` (the coordinate drawn on the x-axis: ``"beta"`` or
  ``"epoch"``), ``logx``/``logy`` (0/1) — what :func:`thermoep.plots.plot_any` needs;
* ``name``, ``title`` and ``config`` (JSON: model, sampler, estimators, grid, seed), so the file
  alone says how it was made (docs/design.md §5);
* ``plot``: the comma-separated variables worth drawing (:func:`plot` draws only those; the
  per-unit and bookkeeping variables stay in the file).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import xarray as xr

__all__ = ["describe", "finish", "plot", "plot_variables"]


def describe(obj: Any) -> Any:
    """A JSON-able description of a config value: samplers/estimators/energies by their repr."""
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, Mapping):
        return {str(k): describe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [describe(v) for v in obj]
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    return repr(obj)


def finish(ds: xr.Dataset, *, name: str, x: str, config: Mapping[str, Any], plot: Sequence[str],
           logx: bool = False, logy: bool = False, title: str | None = None) -> xr.Dataset:
    """Set the diagnostic attrs on ``ds`` (in place) and return it."""
    from .. import __version__

    missing = [v for v in plot if v not in ds.data_vars]
    if missing:
        raise ValueError(f"plot variables {missing} are not in the dataset "
                         f"({sorted(ds.data_vars)})")
    ds.attrs.update({
        "kind": "diagnostic",
        "name": name,
        "x": x,
        "logx": int(bool(logx)),
        "logy": int(bool(logy)),
        "plot": ",".join(plot),
        "title": title or name,
        "config": json.dumps(describe(dict(config))),
        "thermoep_version": __version__,
    })
    return ds


def plot_variables(ds: xr.Dataset) -> list[str]:
    """The variables named in ``attrs["plot"]`` (all numeric ones along ``x`` if absent)."""
    names = [v for v in str(ds.attrs.get("plot", "")).split(",") if v]
    return [v for v in names if v in ds.data_vars] or list(ds.data_vars)


def plot(ds: xr.Dataset, path: str | os.PathLike) -> Path:
    """Draw ``ds``'s plot variables with :func:`thermoep.plots.plot_any` (PNG)."""
    from ..plots import plot_any

    return plot_any(ds[plot_variables(ds)], path)

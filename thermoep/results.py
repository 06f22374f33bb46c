"""Result files: one xarray Dataset per run or sweep, written atomically as netCDF
(docs/design.md §5).

A run has dim ``epoch`` (coords 1..E) and one float64 variable per metric; a sweep adds dims such
as ``estimator``, ``beta``, ``seed``. The attrs hold the full config (JSON) and the package version,
so a result file alone reproduces its run. Each known variable carries ``long_name`` and
``units`` attrs (CF conventions: ``"1"`` is dimensionless, ``"s"`` seconds); NaN means not
measured in that epoch (e.g. acceptance under deterministic relaxation).

======================== ===== =========================================================
variable                 units meaning (per epoch ``e``)
======================== ===== =========================================================
``train_accuracy``       1     fraction of training examples classified right by the free
                               phase during epoch e (each batch before its update)
``test_accuracy``        1     test-set accuracy after epoch e (of the averaged weights
                               when ``ema_decay`` > 0)
``train_loss``           1     mean free-phase cost over epoch e's training batches
``test_loss``            1     mean cost on the test set after epoch e
``nudged_phases``        1     nudged phases run since the start of training (cumulative)
``wall_seconds``         s     wall-clock time since the start of training (cumulative,
                               training and evaluation, carried over a resume)
``train_seconds``        s     wall-clock time of epoch e's training batches alone (not
                               cumulative, without evaluation): the speed figure
``residual``             1     free-phase relaxation residual ‖F(s) − s‖ / step, the
                               largest in a batch, averaged over the batches
``acceptance``           1     free-phase Metropolis acceptance rate (MALA, HMC/NUTS),
                               averaged over the batches
``beta``                 1     nudging strength β at the end of epoch e (its magnitude
                               under a random sign)
``p_std``                1     hybrid estimators: probability of the one-sided update
``disagreement``         1     adaptive hybrid: averaged 1 − cos(ĝ_one-sided, ĝ_centered)
``lr``                   1     learning rate of the first parameter group in epoch e
``test_accuracy_online`` 1     test accuracy of the weights being trained (``ema_decay``)
``test_loss_online``     1     test cost of the weights being trained (``ema_decay``)
``lipschitz``            1     Lipschitz constant of the relaxation map at the free fixed
                               point, largest over 64 test inputs (``--lipschitz``)
``objective``            1     J_β = F_β − F_0 = ∫₀^β E_b[ℓ] db at the epoch's β (divide
                               by β for L_β), per-input mean over the training batches
                               (each before its update), by the estimator's quadrature
                               in b (path integral; finite nudge with objective_nodes)
``objective_se``         1     Monte-Carlo standard error of ``objective`` (over chains)
======================== ===== =========================================================
"""

from __future__ import annotations

import dataclasses
import enum
import importlib
import json
import math
import os
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path, PurePath
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

SCHEMA_VERSION = 1
#: Known per-epoch variables, in the order a run's Dataset lists them: name -> (long_name,
#: units); the module docstring's table says more.
EPOCH_VARIABLE_ATTRS: dict[str, tuple[str, str]] = {
    "train_accuracy": ("training accuracy during the epoch (free phase, before each update)",
                       "1"),
    "test_accuracy": ("test accuracy after the epoch", "1"),
    "train_loss": ("mean free-phase cost over the epoch's training batches", "1"),
    "test_loss": ("mean test cost after the epoch", "1"),
    "nudged_phases": ("nudged phases since the start of training (cumulative)", "1"),
    "wall_seconds": ("wall-clock time since the start of training (cumulative, training and "
                     "evaluation)", "s"),
    "train_seconds": ("wall-clock time of this epoch's training batches (without evaluation)",
                      "s"),
    "residual": ("free-phase relaxation residual (largest in a batch, mean over batches)", "1"),
    "acceptance": ("free-phase Metropolis acceptance rate (mean over batches)", "1"),
    "beta": ("nudging strength beta at the end of the epoch", "1"),
    "p_std": ("hybrid: probability of the one-sided update", "1"),
    "disagreement": ("adaptive hybrid: averaged 1 - cos(one-sided, centered)", "1"),
    "lr": ("learning rate of the first parameter group", "1"),
    "test_accuracy_online": ("test accuracy of the weights being trained (not averaged)", "1"),
    "test_loss_online": ("test cost of the weights being trained (not averaged)", "1"),
    "lipschitz": ("Lipschitz constant of the relaxation map at the free fixed point", "1"),
    "objective": ("objective J_beta = F_beta - F_0 (mean over the epoch's training batches)",
                  "1"),
    "objective_se": ("Monte-Carlo standard error of the objective J_beta", "1"),
}
EPOCH_VARIABLES = tuple(EPOCH_VARIABLE_ATTRS)
# attrs written by this module; config keys with these names stay only in the JSON "config" attr
_RESERVED_ATTRS = ("config", "thermoep_version", "schema_version", "created", "name", "kind",
                   "run_configs")

__all__ = [
    "EPOCH_VARIABLES", "EPOCH_VARIABLE_ATTRS", "SCHEMA_VERSION", "check_writable",
    "combine_runs", "config_of", "final_metrics", "load", "run_dataset", "split_runs",
    "summary_table", "write",
]


def _version() -> str:
    """The installed thermoep version, imported lazily; "unknown" if unavailable."""
    try:
        from thermoep import __version__
    except ImportError:
        return "unknown"
    return str(__version__)


def _jsonable(obj: Any, where: str = "config") -> Any:
    """Convert ``obj`` to plain JSON types (Paths → str, tuples/sets → lists, numpy → Python)."""
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v, f"{where}.{k}") for k, v in obj.items()}
    if isinstance(obj, (set, frozenset)):
        obj = sorted(obj, key=repr)
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v, f"{where}[{i}]") for i, v in enumerate(obj)]
    if isinstance(obj, PurePath):
        return str(obj)
    if isinstance(obj, enum.Enum):
        return _jsonable(obj.value, where)
    if isinstance(obj, np.generic):
        return obj.item()
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return _jsonable(dataclasses.asdict(obj), where)
    if hasattr(obj, "tolist"):  # numpy arrays, torch tensors
        return _jsonable(obj.tolist(), where)
    raise TypeError(
        f"{where} = {obj!r} ({type(obj).__name__}) is not JSON-serialisable; accepted: None, "
        "bool, int, float, str, Path, Enum, dict, list/tuple/set, numpy/torch scalars and arrays"
    )


def _flat_attrs(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Scalar config entries as netCDF-safe attrs (bools as int, None skipped), the entries of
    a nested section under dotted names (``sampler.chains``)."""
    out: dict[str, Any] = {}
    for key, value in config.items():
        if (not prefix and key in _RESERVED_ATTRS) or value is None:
            continue
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(_flat_attrs(value, f"{name}."))
        elif isinstance(value, bool):
            out[name] = int(value)
        elif isinstance(value, (str, int, float)):
            out[name] = value
    return out


def _attrs(config: Mapping[str, Any], *, name: str, kind: str) -> dict[str, Any]:
    """The standard attrs: JSON config, version, schema, creation time, name, flat config keys."""
    attrs: dict[str, Any] = {
        "name": name,
        "kind": kind,
        "config": json.dumps(config),
        "thermoep_version": _version(),
        "schema_version": SCHEMA_VERSION,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    attrs.update(_flat_attrs(config))
    return attrs


def _variable_attrs(key: str) -> dict[str, str]:
    if key not in EPOCH_VARIABLE_ATTRS:
        return {}
    long_name, units = EPOCH_VARIABLE_ATTRS[key]
    return {"long_name": long_name, "units": units}


def _as_float(value: Any, key: str, epoch: int) -> float:
    if value is None:
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        raise TypeError(
            f"history[{epoch - 1}][{key!r}] = {value!r} is not a number; metrics must be floats"
        ) from None


def run_dataset(
    history: Sequence[Mapping[str, float]], config: Mapping[str, Any], *, name: str = "run",
    attrs: Mapping[str, Any] | None = None,
) -> xr.Dataset:
    """One run as a Dataset: dim ``epoch`` (1..E), a float64 variable per metric, config in attrs.

    Metrics missing from an epoch's dict are NaN. Known metrics (EPOCH_VARIABLES) come first.
    ``attrs``: flat settings worth seeing at a glance (plot titles), beside the JSON config.
    """
    if not isinstance(config, Mapping):
        raise TypeError(f"config must be a dict, got {type(config).__name__}")
    cfg = _jsonable(config)
    present = {k for row in history for k in row}
    keys = [k for k in EPOCH_VARIABLES if k in present]
    keys += [k for k in dict.fromkeys(k for row in history for k in row) if k not in keys]
    epochs = np.arange(1, len(history) + 1, dtype=np.int64)
    data = {
        key: (
            "epoch",
            np.array(
                [_as_float(row.get(key), key, e) for e, row in zip(epochs, history, strict=True)],
                dtype=np.float64,
            ),
            _variable_attrs(key),
        )
        for key in keys
    }
    ds_attrs = _attrs(cfg, name=name, kind="run")
    ds_attrs.update(_flat_attrs(_jsonable(dict(attrs or {}))))
    return xr.Dataset(data, coords={"epoch": epochs}, attrs=ds_attrs)


def config_of(ds: xr.Dataset) -> dict:
    """The full config dict stored in ``ds.attrs["config"]``."""
    if "config" not in ds.attrs:
        raise ValueError(f"dataset has no 'config' attr; attrs present: {sorted(ds.attrs)}")
    return json.loads(ds.attrs["config"])


def combine_runs(
    datasets: Sequence[xr.Dataset], dims: Mapping[str, Sequence], *, name: str = "sweep"
) -> xr.Dataset:
    """Stack runs along sweep dims, e.g. ``{"estimator": [...], "beta": [...], "seed": [...]}``.

    ``dims[d][i]`` is run i's coordinate along d. The result has dims ``(*dims, "epoch")``; missing
    combinations and shorter runs are NaN padded. attrs["config"] keeps the config entries shared by
    all runs; attrs["run_configs"] (JSON) lists each run's coords and full config.
    """
    if not datasets:
        raise ValueError("combine_runs needs at least one dataset, got none")
    if not dims:
        raise ValueError("combine_runs needs at least one sweep dim, e.g. {'seed': [0, 1]}")
    n = len(datasets)
    for dim, values in dims.items():
        if dim == "epoch":
            raise ValueError("'epoch' cannot be a sweep dim")
        if len(values) != n:
            raise ValueError(
                f"dims[{dim!r}] has {len(values)} values, expected one per run ({n} runs)"
            )
    for i, ds in enumerate(datasets):
        if "epoch" not in ds.dims:
            raise ValueError(f"datasets[{i}] has no 'epoch' dim (dims: {tuple(ds.dims)})")
        clash = [d for d in dims if d in ds.variables or d in ds.dims]
        if clash:
            raise ValueError(f"datasets[{i}] already has variables/dims named {clash}")
    keys = list(zip(*(list(v) for v in dims.values()), strict=True))
    dupes = [k for k, c in Counter(keys).items() if c > 1]
    if dupes:
        raise ValueError(
            f"runs must have distinct coordinates over {list(dims)}; repeated: {dupes}"
        )

    stacked = xr.concat(
        list(datasets), dim="run", join="outer", fill_value=np.nan, data_vars="all",
        coords="different", compat="equals", combine_attrs="drop_conflicts",
    )
    index = pd.MultiIndex.from_arrays([np.asarray(v) for v in dims.values()], names=list(dims))
    stacked = stacked.assign_coords(xr.Coordinates.from_pandas_multiindex(index, "run"))
    out = stacked.unstack("run", fill_value=np.nan)
    out = out.reindex({d: pd.unique(np.asarray(v)) for d, v in dims.items()})  # given order
    out = out.transpose(*dims, "epoch", ...)

    configs = [config_of(ds) if "config" in ds.attrs else {} for ds in datasets]
    common = {k: v for k, v in configs[0].items() if all(c.get(k, object()) == v for c in configs)}
    runs = [
        {"coords": {d: _jsonable(v) for d, v in zip(dims, key, strict=True)}, "config": cfg}
        for key, cfg in zip(keys, configs, strict=True)
    ]
    out.attrs = _attrs(common, name=name, kind="sweep")
    out.attrs["run_configs"] = json.dumps(runs)
    return out


def check_writable(path: str | os.PathLike) -> Path:
    """Raise ValueError unless ``path`` can be written: parent dir exists and is writable."""
    path = Path(path).expanduser()
    if path.is_dir():
        raise ValueError(f"output path {str(path)!r} is a directory; give a file name, e.g. run.nc")
    parent = path.parent
    if not parent.exists():
        raise ValueError(f"cannot write {str(path)!r}: directory {str(parent)!r} does not exist")
    if not parent.is_dir():
        raise ValueError(f"cannot write {str(path)!r}: {str(parent)!r} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ValueError(f"cannot write {str(path)!r}: directory {str(parent)!r} is not writable")
    return path


def _engine() -> tuple[str, str]:
    """(engine, format): netCDF4 if importable, else h5netcdf, else scipy (netCDF3)."""
    for modules, engine in ((("netCDF4",), "netcdf4"), (("h5netcdf", "h5py"), "h5netcdf")):
        try:
            for module in modules:
                importlib.import_module(module)
        except ImportError:
            continue
        return engine, "NETCDF4"
    return "scipy", "NETCDF3_64BIT"


def _clean_attrs(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """netCDF-safe attrs: drop None, bools → int, dicts/lists of non-numbers → JSON strings."""
    out: dict[str, Any] = {}
    for key, value in attrs.items():
        if value is None:
            continue
        if isinstance(value, (bool, np.bool_)):
            value = int(value)
        elif isinstance(value, (Mapping, PurePath)) or (
            isinstance(value, (list, tuple)) and not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
        ):
            value = json.dumps(_jsonable(value, f"attrs[{key!r}]"))
        out[key] = value
    return out


def write(ds: xr.Dataset, path: str | os.PathLike) -> Path:
    """Write ``ds`` atomically as netCDF: to ``<path>.tmp`` in the same dir, then rename."""
    path = check_writable(path)
    tmp = path.with_name(path.name + ".tmp")
    engine, fmt = _engine()
    ds = ds.copy(deep=False)
    ds.attrs = _clean_attrs(ds.attrs)
    try:
        ds.to_netcdf(tmp, engine=engine, format=fmt)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


#: netCDF-3 (classic, 64-bit offset, 64-bit data) and HDF5 (netCDF-4) signatures
_NETCDF3_MAGIC = (b"CDF\x01", b"CDF\x02", b"CDF\x05")
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
_HDF5_OFFSETS = (0, 512, 1024, 2048)  # where HDF5 allows its superblock to start


def _not_netcdf(path: Path) -> str | None:
    """Why ``path`` is certainly not netCDF (empty, other signature), or None if it may be."""
    with path.open("rb") as f:
        head = f.read(max(_HDF5_OFFSETS) + len(_HDF5_MAGIC))
    if not head:
        return "the file is empty (0 bytes)"
    if head[:4] in _NETCDF3_MAGIC or any(
            head[o:o + len(_HDF5_MAGIC)] == _HDF5_MAGIC for o in _HDF5_OFFSETS):
        return None
    return (f"not netCDF (it begins with {head[:16]!r}; netCDF files begin with b'CDF' or "
            "b'\\x89HDF')")


def load(path: str | os.PathLike) -> xr.Dataset:
    """Read a result file fully into memory and close it (so it can be overwritten).

    A file that is empty, not netCDF, truncated, or netCDF without the attrs thermoep writes is
    a ValueError "<path>: not a thermoep results file (netCDF): <what was found>".
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"result file not found: {str(path)!r}")
    if path.is_dir():
        raise ValueError(f"result path {str(path)!r} is a directory, expected a netCDF file")
    refused = f"{path}: not a thermoep results file (netCDF)"
    why = _not_netcdf(path)
    if why is not None:
        raise ValueError(f"{refused}: {why}")
    try:
        with xr.open_dataset(path) as ds:
            ds = ds.load()
    except Exception as exc:  # netCDF4/HDF5/scipy each raise their own types
        detail = (str(exc).splitlines() or [""])[0]
        raise ValueError(f"{refused}: truncated or unreadable ({type(exc).__name__}: "
                         f"{detail})") from exc
    if not any(key in ds.attrs for key in ("kind", "thermoep_version")):
        raise ValueError(f"{refused}: a netCDF file, but without the attrs thermoep writes "
                         f"(kind, thermoep_version); attrs present: {sorted(ds.attrs)}")
    return ds


def _py(value: Any) -> Any:
    """numpy scalar → Python scalar (ints stay int, strings stay str)."""
    return value.item() if isinstance(value, np.generic) else value


def summary_table(ds: xr.Dataset) -> list[dict]:
    """Rows for printing: one per epoch (per sweep point and epoch); all-NaN rows are dropped.

    Each row holds the dim coordinates (sweep dims first, then ``epoch``) and the variables that
    have an ``epoch`` dim. Diagnostics without ``epoch`` are tabulated along their ``attrs["x"]``
    dim (e.g. ``beta``), using the variables named in ``attrs["plot"]`` when present.
    """
    axis = "epoch"
    if "epoch" not in ds.dims:
        axis = ds.attrs.get("x")
        if axis not in ds.dims:
            raise ValueError(f"summary_table needs an 'epoch' dim or attrs['x'] naming a dim, "
                             f"got dims {tuple(ds.dims)}")
        wanted = ds.attrs.get("plot")
        if isinstance(wanted, str):
            wanted = [w for w in wanted.replace(",", " ").split() if w in ds.data_vars]
        if wanted:
            ds = ds[list(wanted)]
    names = [k for k, v in ds.data_vars.items() if axis in v.dims]
    if not names:
        return []
    sub = ds[names]
    order = [d for d in sub.dims if d != axis] + [axis]
    frame = sub.transpose(*order).to_dataframe().reset_index()
    frame = frame[order + names].dropna(subset=names, how="all")
    return [{k: _py(v) for k, v in row.items()} for row in frame.to_dict("records")]


def split_runs(ds: xr.Dataset) -> list[tuple[dict[str, Any], xr.Dataset]]:
    """The runs in ``ds``: ``(coords, run)`` per grid point that holds data (one for a run),
    each ``run`` along ``epoch`` only, without the NaN epochs that pad shorter runs."""
    if "epoch" not in ds.dims:
        raise ValueError(f"split_runs needs an 'epoch' dim, got dims {tuple(ds.dims)}")
    grid = [d for d in ds.dims if d != "epoch"]
    names = [k for k, v in ds.data_vars.items() if "epoch" in v.dims]
    out = []
    for index in np.ndindex(*(ds.sizes[d] for d in grid)):
        run = ds.isel(dict(zip(grid, index, strict=True)))[names]
        done = np.zeros(run.sizes["epoch"], dtype=bool)
        for name in names:
            done |= np.isfinite(run[name].values)
        if not done.any():
            continue  # a combination the sweep did not run
        run = run.isel(epoch=slice(0, int(np.flatnonzero(done)[-1]) + 1))
        coords = {d: _py(ds[d].values[i]) if d in ds.coords else int(i)
                  for d, i in zip(grid, index, strict=True)}
        out.append((coords, run))
    return out


def run_seed(ds: xr.Dataset, coords: Mapping[str, Any]) -> Any:
    """The seed of one run of ``ds`` (its grid coordinate, else its config's), or None."""
    if "seed" in coords:
        return coords["seed"]
    config = _config(ds)
    run = config.get("run")
    return run.get("seed") if isinstance(run, Mapping) else config.get("seed")


def configuration_key(ds: xr.Dataset, coords: Mapping[str, Any]) -> str:
    """What one run of ``ds`` (at grid point ``coords``, from :func:`split_runs`) was run with,
    except its seed: runs with equal keys are seeds of one configuration. The results file's
    config without the seed and without settings left at None, and the run's grid coordinates
    without ``seed``. (A sweep's file holds the settings its runs share, a training run's file
    all of them: a seed sweep and single runs of the same settings get different keys.)"""
    def settings(table: Mapping) -> dict:
        # a setting left at None is one a file written before it existed leaves out
        return {k: settings(v) if isinstance(v, Mapping) else v for k, v in table.items()
                if k != "seed" and v is not None}

    grid = {k: v for k, v in coords.items() if k != "seed"}
    return json.dumps({"config": settings(_config(ds)), "grid": grid}, sort_keys=True,
                      default=str)


def _config(ds: xr.Dataset) -> dict:
    text = ds.attrs.get("config")
    try:
        config = json.loads(text) if isinstance(text, str) else {}
    except json.JSONDecodeError:
        config = {}
    return config if isinstance(config, dict) else {}


def final_metrics(run: xr.Dataset) -> dict[str, Any]:
    """A run's summary: ``epochs`` done, every epoch variable at its last epoch, the best
    ``test_accuracy`` and, for ``train_seconds``, the mean over epochs (seconds per epoch)."""
    if set(run.dims) != {"epoch"}:
        raise ValueError(f"final_metrics needs one run (dim 'epoch' only), got dims "
                         f"{dict(run.sizes)}; use split_runs for sweeps")
    row: dict[str, Any] = {"epochs": int(run.sizes["epoch"])}
    for name, var in run.data_vars.items():
        values = np.asarray(var.values, dtype=float)
        if name == "train_seconds":
            row[name] = float(np.nanmean(values)) if np.isfinite(values).any() else math.nan
        else:
            row[name] = float(values[-1]) if values.size else math.nan
    if "test_accuracy" in run.data_vars and np.isfinite(run["test_accuracy"].values).any():
        row["best_test_accuracy"] = float(np.nanmax(run["test_accuracy"].values))
    return row

"""Grids of training runs (estimator × β × seed × ...) on local processes, as one Dataset.

A sweep file is JSON: ``{"base": {<TrainConfig fields>}, "grid": {"estimator": [...],
"beta": [...], "seed": [...]}}``. Every combination of the grid values is one run of
:func:`thermoep.experiment.run`; the results are stacked by
:func:`thermoep.results.combine_runs` along the grid's dims (plus ``epoch``).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from . import results
from .experiment import TrainConfig, run


def load_spec(path: str | os.PathLike) -> tuple[dict, dict]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"sweep file {path} does not exist")
    try:
        spec = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"sweep file {path} is not valid JSON: {exc}") from None
    unknown = set(spec) - {"base", "grid", "description", "paper"}
    if unknown:
        raise ValueError(f"sweep file {path}: unknown keys {sorted(unknown)} (expected base, "
                         "grid, description, paper)")
    return dict(spec.get("base", {})), dict(spec.get("grid", {}))


def configs(base: dict, grid: dict) -> tuple[list[TrainConfig], dict[str, list]]:
    """Every combination of the grid, validated before any run starts."""
    if not grid:
        raise ValueError("a sweep needs a grid, e.g. {'seed': [0, 1, 2]}")
    names = list(grid)
    for n in names:
        if not isinstance(grid[n], list) or not grid[n]:
            raise ValueError(f"grid[{n!r}] must be a non-empty list, got {grid[n]!r}")
    cfgs, coords = [], {n: [] for n in names}
    for combo in itertools.product(*(grid[n] for n in names)):
        d = {**base, **dict(zip(names, combo, strict=True))}
        cfg = TrainConfig.from_dict(d)
        cfg.resolved()  # fail fast on a bad combination
        cfgs.append(cfg)
        for n, v in zip(names, combo, strict=True):
            coords[n].append(v)
    return cfgs, coords


def _one(cfg: TrainConfig, threads: int | None, kept: Path | None = None):
    """Train one run (or reload it from ``kept``), writing it to ``kept`` when given."""
    reused = find_kept(kept, cfg)
    if reused is not None:
        return reused
    if threads:
        import torch

        torch.set_num_threads(threads)
    ds = run(cfg, quiet=True)
    if kept is not None:
        kept.parent.mkdir(exist_ok=True)
        results.write(ds, kept)
    return ds


def run_file(out: Path, cfg: TrainConfig) -> Path:
    """Where a sweep keeps one finished run: ``<out>.runs/<hash of its config>.nc``."""
    key = hashlib.sha256(json.dumps(cfg.to_dict(), sort_keys=True).encode()).hexdigest()[:16]
    return out.parent / f"{out.name}.runs" / f"{key}.nc"


def find_kept(kept: Path | None, cfg: TrainConfig):
    """The finished run for ``cfg``: at ``kept`` (its hashed name) or, for runs kept before a
    config field was added (which changes the hash), any run in the same folder whose stored
    config matches; None when there is none."""
    reused = _reusable(kept, cfg)
    if reused is None and kept is not None and kept.parent.is_dir():
        for other in sorted(kept.parent.glob("*.nc")):
            if other != kept and (reused := _reusable(other, cfg)) is not None:
                break
    return reused


def _reusable(kept: Path | None, cfg: TrainConfig):
    """The kept run at ``kept`` if it exists and its resolved config equals ``cfg``'s (a changed
    default changes the resolved config, so such a run is trained again)."""
    if kept is None or not kept.is_file():
        return None
    ds = results.load(kept)
    try:
        stored = results.config_of(ds)
    except ValueError:
        return None
    # the stored config is the resolved one plus what the run derived (sizes, data source)
    want = json.loads(json.dumps(cfg.resolved().to_dict()))
    defaults = json.loads(json.dumps(TrainConfig().to_dict()))  # fields newer than the run
    same = all(v is None or stored.get(k, defaults.get(k)) == v for k, v in want.items())
    return ds if same else None


def sweep(base: dict, grid: dict, *, out: str | os.PathLike | None = None, workers: int = 1,
          name: str = "sweep", progress=None):
    """Run the grid (``workers`` processes, one torch thread each when > 1) and combine.

    With ``out``, every finished run is also written to ``<out>.runs/`` (by the worker that
    trained it) and a repeated sweep reloads the runs it finds there instead of training them
    again, so an interrupted sweep resumes where it stopped (a run whose config changed is
    trained again).
    """
    cfgs, coords = configs(base, grid)
    if out is not None:
        out = results.check_writable(out)
    kept = [None if out is None else run_file(out, c) for c in cfgs]
    if workers <= 1:
        datasets = []
        for i, (c, k) in enumerate(zip(cfgs, kept, strict=True)):
            datasets.append(_one(c, None, k))
            if progress is not None:
                progress(i + 1, len(cfgs), c)
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures = {pool.submit(_one, c, 1, k): i
                       for i, (c, k) in enumerate(zip(cfgs, kept, strict=True))}
            datasets = [None] * len(cfgs)
            for done, fut in enumerate(as_completed(futures), 1):
                i = futures[fut]
                datasets[i] = fut.result()
                if progress is not None:
                    progress(done, len(cfgs), cfgs[i])
    # a per-epoch record named like a sweep dim (β under a schedule) is kept as <name>_epoch
    datasets = [d.rename({k: f"{k}_epoch" for k in coords if k in d.data_vars}) for d in datasets]
    ds = results.combine_runs(datasets, coords, name=name)
    if out is not None:
        results.write(ds, out)
    return ds

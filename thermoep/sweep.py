"""Grids of training runs (estimator × β × seed × ...) as one Dataset, on local processes or Ray.

A sweep file is JSON: ``{"base": {<a run config: its sections>}, "grid": {"estimator":
[...], "beta": [...], "seed": [...], "sampler.chains": [...]}}``, the grid keyed by config keys
(short or dotted, see :mod:`thermoep.config`). Every combination of the grid values is one run
of :func:`thermoep.experiment.run`; the results are stacked by
:func:`thermoep.results.combine_runs` along the grid's dims (plus ``epoch``).

Where the runs execute is a *backend* (``BACKENDS``): ``local`` (this process, or a pool of
processes) or ``ray`` (one Ray task per run, on a local Ray instance or a cluster). A backend only
maps a picklable run function over its arguments; it knows nothing of the configs, so the
results are the same on every backend for the same grid and seeds.
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import itertools
import json
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from . import results
from .config import SECTIONS, RunConfig
from .experiment import run


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


def _check_distinct(name: str, values: list) -> None:
    """A repeated grid value would train the same run twice and then fail to combine: refuse it
    up front. Compared with ``==`` (not by hash) so that 0 and 0.0, or two equal lists, count as
    one value, as they do once they are coordinates."""
    for i, v in enumerate(values):
        if any(v == w for w in values[:i]):
            raise ValueError(f"grid[{name!r}] repeats the value {v!r} (got {values!r}); every "
                             "value of a grid dim must be distinct")


def _legacy(base: dict) -> bool:
    """A flat base of short keys (thermoep 0.1's sweep files) rather than sections."""
    return not any(isinstance(base.get(s), dict) for s in SECTIONS)


def configs(base: dict, grid: dict, overrides: dict | None = None
            ) -> tuple[list[RunConfig], dict[str, list]]:
    """Every combination of the grid (then ``overrides``, e.g. ``--set``), validated before
    any run starts. A flat base of thermoep 0.1 is read with each grid point merged into it, as
    it was then (``beta_schedule: "linear"`` takes the base's ``beta_end``)."""
    if not grid:
        raise ValueError("a sweep needs a grid, e.g. {'seed': [0, 1, 2]}")
    names = list(grid)
    for n in names:
        if not isinstance(grid[n], list) or not grid[n]:
            raise ValueError(f"grid[{n!r}] must be a non-empty list, got {grid[n]!r}")
        _check_distinct(n, grid[n])
    cfgs, coords, seen = [], {n: [] for n in names}, {}
    start = None if _legacy(base) else RunConfig.from_dict(base)
    for combo in itertools.product(*(grid[n] for n in names)):
        point = dict(zip(names, combo, strict=True))
        cfg = (RunConfig.from_dict({**base, **point}) if start is None
               else start.with_values(_grid_values(point)))
        cfg = cfg.with_values(overrides or {})
        key = _config_key(cfg.resolved())  # fail fast on a bad combination
        if key in seen:  # e.g. beta [null, 0.2]: both are the estimator's default 0.2
            raise ValueError(f"grid points {seen[key]} and {point} are the same run once "
                             "their defaults are filled in; drop one of them")
        seen[key] = point
        cfgs.append(cfg)
        for n, v in zip(names, combo, strict=True):
            coords[n].append(v)
    return cfgs, coords


def _grid_values(point: dict) -> dict:
    """A grid point as config values: ``null`` leaves a key to its default; the β schedule of
    thermoep 0.1's sweep files (``beta_schedule: "linear"``) is a table now."""
    out = {k: v for k, v in point.items() if v is not None}
    spec = out.get("beta_schedule", out.get("estimator.beta_schedule"))
    if isinstance(spec, str):
        key = "beta_schedule" if "beta_schedule" in out else "estimator.beta_schedule"
        out[key] = None if spec == "fixed" else {"name": spec}
        if out[key] is None:
            out.pop(key)
    return out


def _config_key(cfg: RunConfig) -> str:
    return json.dumps(cfg.to_dict(), sort_keys=True, default=str)


def resolved_values(cfg: RunConfig, names: Sequence[str]) -> dict:
    """The run's values of the grid dims ``names`` once its defaults are filled in (what the run
    trains with: a grid value ``null`` shows as the estimator's default β, say)."""
    resolved = cfg.resolved()
    return {n: resolved.get(n) for n in names}


def _one(cfg: RunConfig, kept: Path | None = None, *, threads: int | None = None):
    """Train one run and, when ``kept`` is given, write it there (in the process that trained
    it, so a sweep killed later still finds it)."""
    if threads:
        import torch

        torch.set_num_threads(threads)
    ds = run(cfg, quiet=True)
    if kept is not None:
        kept.parent.mkdir(parents=True, exist_ok=True)
        results.write(ds, kept)
    return ds


def run_file(out: Path, cfg: RunConfig) -> Path:
    """Where a sweep keeps one finished run: ``<out>.runs/<hash of its resolved config>.nc``."""
    key = hashlib.sha256(json.dumps(cfg.resolved().to_dict(), sort_keys=True,
                                    default=str).encode()).hexdigest()[:16]
    return out.parent / f"{out.name}.runs" / f"{key}.nc"


def find_kept(kept: Path | None, cfg: RunConfig):
    """The finished run for ``cfg``: at ``kept`` (its hashed name) or, for runs kept before a
    config field was added (which changes the hash), any run in the same folder whose stored
    config matches; None when there is none."""
    return _find_kept([kept], [cfg])[0]


def _find_kept(kept: Sequence[Path | None], cfgs: Sequence[RunConfig]) -> list:
    """:func:`find_kept` for many runs, reading each file of the folder at most once."""
    found = [_reusable(k, c) for k, c in zip(kept, cfgs, strict=True)]
    missing = [i for i, ds in enumerate(found) if ds is None and kept[i] is not None]
    folders = {kept[i].parent for i in missing if kept[i].parent.is_dir()}
    taken = {k for k, ds in zip(kept, found, strict=True) if ds is not None}
    others = [(p, None) for f in sorted(folders) for p in sorted(f.glob("*.nc")) if p not in taken]
    for i in missing:
        for j, (path, ds) in enumerate(others):
            if path.parent != kept[i].parent or path == kept[i]:
                continue
            if ds is None:
                ds = _load_or_none(path)
                others[j] = (path, ds)
            if ds is not None and _matches(ds, cfgs[i]):
                found[i] = ds
                break
    return found


def _load_or_none(path: Path):
    """A kept run, or None for a damaged or foreign file (that run is trained again)."""
    try:
        return results.load(path)
    except ValueError:
        return None


def _reusable(kept: Path | None, cfg: RunConfig):
    """The kept run at ``kept`` if it exists and matches ``cfg`` (else None)."""
    if kept is None or not kept.is_file():
        return None
    ds = _load_or_none(kept)
    return ds if ds is not None and _matches(ds, cfg) else None


def _matches(ds, cfg: RunConfig) -> bool:
    """Whether the kept run ``ds`` was trained with ``cfg``'s resolved config: its stored config
    (of this version, or thermoep 0.1's flat one) resolved again, so that keys newer than the run
    take their defaults on both sides; a changed default changes the resolved config, so such a
    run is trained again."""
    try:
        stored = RunConfig.from_dict(results.config_of(ds)).resolved().flat()
    except (TypeError, ValueError):
        return False
    want = json.loads(json.dumps(cfg.resolved().flat(), default=str))
    return json.loads(json.dumps(stored, default=str)) == want


# -- backends: where the runs execute --------------------------------------------------------
# A backend is built from its options and has ``map(fn, tasks)``: call ``fn(*task, threads=n)``
# for every task and yield ``(index of the task, its result)`` as each one finishes.

def _whole_if_above_one(what: str, value) -> float:
    """Ray's rule for resource requests: a fraction of one unit, or whole units."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{what} must be a number, got {value!r}")
    if value > 1 and value != int(value):
        raise ValueError(f"{what} above 1 must be a whole number (Ray schedules fractions of one "
                         f"unit only), got {value}")
    return float(value)


class LocalBackend:
    """Runs on this machine: in this process (``workers=1``), or in ``workers`` processes with
    one torch thread each (so that they do not oversubscribe the cores)."""

    def __init__(self, workers: int = 1):
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ValueError(f"workers must be an int >= 1, got {workers!r}")
        self.workers = workers

    def map(self, fn: Callable, tasks: Sequence[tuple]) -> Iterator[tuple[int, object]]:
        if self.workers == 1:
            for i, task in enumerate(tasks):
                yield i, fn(*task)
            return
        pool = ProcessPoolExecutor(max_workers=self.workers)
        try:
            futures = {pool.submit(fn, *task, threads=1): i for i, task in enumerate(tasks)}
            for fut in as_completed(futures):
                yield futures[fut], fut.result()
        finally:  # a failed run (or an interrupt) stops the runs not yet started
            pool.shutdown(wait=True, cancel_futures=True)


class RayBackend:
    """One Ray task per run (``ray.remote(num_cpus=cpus_per_run, num_gpus=gpus_per_run)``).

    ``address``: None starts a local Ray instance for the sweep (and stops it after); ``"auto"``
    joins the cluster this machine belongs to (``ray start``, or Ray's Slurm launcher);
    ``"HOST:PORT"`` joins that cluster. When Ray is already initialised in this process, its
    instance is used as it is. Each run uses ``cpus_per_run`` torch threads (at least one); with
    ``gpus_per_run`` > 0 Ray hands the task its GPU(s) and ``device="auto"`` picks them up.

    The finished runs are written to ``<out>.runs/`` by the task that trained them: on a
    cluster, ``out`` must lie on a file system every node sees for a killed sweep to find them
    (the driver writes a run the task's node could not share, so a repeated sweep still finds it).
    """

    def __init__(self, address: str | None = None, cpus_per_run: float = 1,
                 gpus_per_run: float = 0):
        self.ray = _import_ray()  # before any run, so a missing Ray costs nothing
        if address is not None and not isinstance(address, str):
            raise TypeError(f"address must be 'auto', 'HOST:PORT' or None, got {address!r}")
        self.address = address
        self.cpus = _whole_if_above_one("cpus_per_run", cpus_per_run)
        self.gpus = _whole_if_above_one("gpus_per_run", gpus_per_run)
        if self.cpus <= 0:
            raise ValueError(f"cpus_per_run must be > 0, got {cpus_per_run}")
        if self.gpus < 0:
            raise ValueError(f"gpus_per_run must be >= 0, got {gpus_per_run}")

    def map(self, fn: Callable, tasks: Sequence[tuple]) -> Iterator[tuple[int, object]]:
        ray = self.ray
        started = not ray.is_initialized()
        if started:
            # the dashboard needs ray[default]'s extra packages and serves nothing a sweep reads
            ray.init(address=self.address, include_dashboard=False)
        pending: list = []
        try:
            remote = ray.remote(num_cpus=self.cpus, num_gpus=self.gpus)(fn)
            threads = max(1, int(self.cpus))
            index = {remote.remote(*task, threads=threads): i for i, task in enumerate(tasks)}
            pending = list(index)
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                try:
                    result = ray.get(done[0])
                except ray.exceptions.RayTaskError as exc:
                    # a run's own error, as the local backend raises it (the CLI prints its
                    # message as one line; Ray's has the remote traceback, kept as the cause)
                    if isinstance(exc.cause, Exception):
                        raise exc.cause from exc
                    raise
                yield index[done[0]], result
        finally:
            for ref in pending:  # a failed run (or an interrupt) stops the others
                ray.cancel(ref, force=True)
            if started:
                ray.shutdown()


def _import_ray():
    try:
        import ray
    except ImportError as exc:
        raise ModuleNotFoundError(
            f"the ray backend needs Ray, which cannot be imported here ({exc}); install it with "
            "pip install 'thermoep[ray]'") from None
    return ray


BACKENDS: dict[str, type] = {"local": LocalBackend, "ray": RayBackend}


def make_backend(name: str, **options):
    """The backend ``name`` built from its options; an unknown name or option is refused."""
    if name not in BACKENDS:
        raise ValueError(f"unknown sweep backend {name!r}; choose one of {sorted(BACKENDS)}")
    cls = BACKENDS[name]
    accepted = list(inspect.signature(cls).parameters)
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise ValueError(f"sweep backend {name!r} takes the options {accepted}, got "
                         f"{unknown}")
    return cls(**options)


def sweep(base: dict, grid: dict, *, out: str | os.PathLike | None = None,
          backend: str = "local", name: str = "sweep", progress=None,
          overrides: dict | None = None, **options):
    """Run the grid on ``backend`` (``BACKENDS``; its ``options``, e.g. ``workers=2`` for local,
    ``address="auto", cpus_per_run=2`` for ray) and combine the runs into one Dataset.

    With ``out``, every finished run is also written to ``<out>.runs/`` (by the process that
    trained it) and a repeated sweep reloads the runs it finds there instead of training them
    again, so an interrupted sweep resumes where it stopped, on any backend (a run whose config
    changed is trained again). ``progress(done, total, values, reused)`` is called as each run
    finishes, with ``values`` the run's resolved values of the grid dims.
    """
    cfgs, coords = configs(base, grid, overrides)
    runner = make_backend(backend, **options)
    if out is not None:
        # absolute, so that a task started in another working directory writes the same file
        out = results.check_writable(out).resolve()
    kept = [None if out is None else run_file(out, c) for c in cfgs]
    datasets: list = [None] * len(cfgs)
    done = 0  # runs finished or reused so far, for the progress line

    def report(i: int, reused: bool) -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, len(cfgs), resolved_values(cfgs[i], list(grid)), reused)

    # kept runs are found here, not in the tasks: a resumed sweep asks the cluster for nothing
    # it has already done
    for i, ds in enumerate(_find_kept(kept, cfgs)):
        if ds is not None:
            datasets[i] = ds
            report(i, True)
    todo = [i for i, ds in enumerate(datasets) if ds is None]
    with contextlib.closing(runner.map(_one, [(cfgs[i], kept[i]) for i in todo])) as finished:
        for j, ds in finished:
            i = todo[j]
            if kept[i] is not None and not kept[i].is_file():
                results.write(ds, kept[i])  # trained on a node that does not share our disk
            datasets[i] = ds
            report(i, False)
    # a per-epoch record named like a sweep dim (β under a schedule) is kept as <name>_epoch
    datasets = [d.rename({k: f"{k}_epoch" for k in coords if k in d.data_vars}) for d in datasets]
    ds = results.combine_runs(datasets, coords, name=name)
    if out is not None:
        results.write(ds, out)
    return ds

"""Sweeps on Ray: the same Dataset as the local backend, and a killed sweep resumes.

A local Ray instance (2 CPUs, no dashboard) serves the whole module. Skipped where Ray is not
installed (`pip install 'thermoep[ray]'`). The killed sweep comes first: the Ray workers that its
resumption starts are still warm for the uninterrupted sweep (starting one costs seconds).
"""

import os
import subprocess
import sys
import time

import pytest
import xarray as xr

from thermoep import results, sweep

ray = pytest.importorskip("ray")

TINY = {"epochs": 1, "hidden": [8], "limit_train": 100, "limit_test": 50}
GRID = {"seed": [0, 1], "beta": [0.1, 0.3]}  # 2 × 2
# wall-clock records differ from one execution to the next, whatever the backend
CLOCK_VARIABLES = ("wall_seconds", "train_seconds")
CLOCK_ATTRS = ("created",)


def without_clock(ds: xr.Dataset) -> xr.Dataset:
    ds = ds.drop_vars([v for v in CLOCK_VARIABLES if v in ds])
    ds.attrs = {k: v for k, v in ds.attrs.items() if k not in CLOCK_ATTRS}
    return ds


@pytest.fixture(scope="module")
def cluster():
    ray.init(num_cpus=2, include_dashboard=False)
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


@pytest.fixture(scope="module")
def local_sweep(tmp_path_factory):
    """The reference: the grid on the default (local) backend, uninterrupted."""
    out = tmp_path_factory.mktemp("local") / "local.nc"
    sweep.sweep(TINY, GRID, out=out)
    return results.load(out)


def test_killed_ray_sweep_resumes_where_it_stopped(cluster, local_sweep, tmp_path):
    """The CLI sweep joins the module's cluster, is killed once its first run is kept, and a
    second sweep trains only the runs that were missing."""
    out, kept = tmp_path / "killed.nc", tmp_path / "killed.nc.runs"
    args = [f"{k}={v}".replace(" ", "") for k, v in TINY.items()]
    command = [sys.executable, "-m", "thermoep", "sweep", "--backend", "ray", "--address",
               cluster, "--cpus-per-run", "2",  # two CPUs per run: one run at a time
               *(a for kv in args for a in ("--set", kv)),
               *(a for s in GRID["seed"] for a in ("-s", str(s))),
               *(a for b in GRID["beta"] for a in ("-b", str(b))),
               "--out", str(out), "-q"]
    log = tmp_path / "sweep.log"
    with log.open("w") as sink:
        proc = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT,
                                env={**os.environ, "MPLBACKEND": "Agg"})
        deadline = time.monotonic() + 300  # a loaded 2-core machine starts workers slowly
        while not list(kept.glob("*.nc")):
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                proc.wait()
                pytest.fail(f"the sweep ended before keeping a run:\n{log.read_text()}")
            time.sleep(0.005)
        proc.kill()
        proc.wait()
    # Ray stops the killed driver's task, if one was running: wait for its CPUs (and for the
    # resource report to settle), so that no run is kept after the snapshot below
    while ray.available_resources().get("CPU", 0) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    before = {p: p.stat().st_mtime_ns for p in kept.glob("*.nc")}
    assert 1 <= len(before) < 4, f"{len(before)} runs kept: the sweep was not cut short"
    assert not out.exists()

    seen = []
    ds = sweep.sweep(TINY, GRID, out=out, backend="ray",
                     progress=lambda i, n, values, reused: seen.append(reused))
    xr.testing.assert_identical(without_clock(results.load(out)), without_clock(ds))
    assert seen.count(True) == len(before) and seen.count(False) == 4 - len(before)
    assert {p: p.stat().st_mtime_ns for p in before} == before  # reused, not trained again
    assert len(list(kept.glob("*.nc"))) == 4
    xr.testing.assert_identical(without_clock(ds), without_clock(local_sweep))


def test_ray_sweep_equals_the_local_sweep(cluster, local_sweep, tmp_path):
    out = tmp_path / "ray.nc"
    seen = []
    ds = sweep.sweep(TINY, GRID, out=out, backend="ray",
                     progress=lambda i, n, values, reused: seen.append((values, reused)))
    assert sorted(v["seed"] * 10 + v["beta"] for v, _ in seen) == [0.1, 0.3, 10.1, 10.3]
    assert not any(reused for _, reused in seen)
    assert len(list((tmp_path / "ray.nc.runs").glob("*.nc"))) == 4  # written by the tasks
    xr.testing.assert_identical(without_clock(results.load(out)), without_clock(local_sweep))
    xr.testing.assert_identical(without_clock(ds), without_clock(local_sweep))


def test_ray_backend_options_are_checked(cluster):
    for options, message in (({"cpus_per_run": 0}, "cpus_per_run must be > 0, got 0"),
                             ({"gpus_per_run": -1}, "gpus_per_run must be >= 0, got -1"),
                             ({"cpus_per_run": 1.5}, "above 1 must be a whole number"),
                             ({"workers": 2}, r"'ray' takes the options \['address', ")):
        with pytest.raises(ValueError, match=message):
            sweep.sweep(TINY, GRID, backend="ray", **options)


def test_a_failing_run_raises_its_own_error(cluster, tmp_path):
    """As on the local backend: the run's ValueError, whose message the CLI prints as one line
    (Ray's wrapper, with the remote traceback, is its cause)."""
    missing = str(tmp_path / "no-such-data")
    with pytest.raises(ValueError, match="no-such-data") as e:
        sweep.sweep(TINY, {"data_dir": [missing]}, backend="ray", out=tmp_path / "f.nc")
    assert isinstance(e.value.__cause__, ray.exceptions.RayTaskError)
    assert not (tmp_path / "f.nc").exists()

"""Sweeps: one Dataset with the grid's dims; every committed sweep file resolves."""

from pathlib import Path

import pytest
import xarray as xr
from typer.testing import CliRunner

from thermoep import sweep
from thermoep.cli import app

BENCH = Path(__file__).parents[1] / "benchmarks"
QUICK = {"epochs": 2, "hidden": [16], "limit_train": 200, "limit_test": 100}


def test_sweep_dims_and_values(tmp_path):
    ds = sweep.sweep(QUICK, {"estimator": ["centered", "one-sided"], "beta": [0.1, 0.3],
                             "seed": [0]}, out=tmp_path / "s.nc")
    assert dict(ds["test_accuracy"].sizes) == {"estimator": 2, "beta": 2, "seed": 1, "epoch": 2}
    assert "beta_epoch" in ds  # the per-epoch β record, renamed next to the β dim
    assert (ds["nudged_phases"].sel(estimator="centered").isel(epoch=-1)
            == 2 * ds["nudged_phases"].sel(estimator="one-sided").isel(epoch=-1)).all()
    on_disk = xr.open_dataset(tmp_path / "s.nc")
    assert on_disk["test_accuracy"].dims == ("estimator", "beta", "seed", "epoch")
    on_disk.close()


def test_interrupted_sweep_resumes_from_kept_runs(tmp_path, monkeypatch):
    grid = {"estimator": ["centered", "one-sided"], "seed": [0]}
    out = tmp_path / "r.nc"
    first = sweep.sweep(QUICK, grid, out=out)
    kept = sorted((tmp_path / "r.nc.runs").glob("*.nc"))
    assert len(kept) == 2
    kept[0].unlink()  # as if the sweep had died before this run finished
    trained = []
    real = sweep.run
    monkeypatch.setattr(sweep, "run", lambda c, **kw: trained.append(c) or real(c, **kw))
    again = sweep.sweep(QUICK, grid, out=out)
    assert len(trained) == 1  # only the missing run is trained again
    xr.testing.assert_allclose(first["test_accuracy"], again["test_accuracy"])
    sweep.sweep({**QUICK, "lr": 1e-3}, grid, out=out)  # a changed config is not reused
    assert len(trained) == 3


def test_kept_runs_are_found_under_an_older_name(tmp_path, monkeypatch):
    """A field added to TrainConfig changes the hashed file name; the run is still reused."""
    grid = {"estimator": ["centered"], "seed": [0]}
    out = tmp_path / "o.nc"
    first = sweep.sweep(QUICK, grid, out=out)
    (kept,) = (tmp_path / "o.nc.runs").glob("*.nc")
    kept.rename(kept.with_name("written-by-an-older-version.nc"))
    trained = []
    monkeypatch.setattr(sweep, "run", lambda c, **kw: trained.append(c))
    again = sweep.sweep(QUICK, grid, out=out)
    assert trained == []
    xr.testing.assert_allclose(first["test_accuracy"], again["test_accuracy"])


def test_parallel_sweep_keeps_its_runs(tmp_path):
    grid = {"estimator": ["centered", "one-sided"], "seed": [0]}
    out = tmp_path / "p.nc"
    done = []
    ds = sweep.sweep(QUICK, grid, out=out, workers=2,
                     progress=lambda i, n, c: done.append((i, n, c.estimator)))
    assert [i for i, _, _ in done] == [1, 2] and {e for _, _, e in done} == {"centered",
                                                                            "one-sided"}
    assert len(list((tmp_path / "p.nc.runs").glob("*.nc"))) == 2
    serial = sweep.sweep(QUICK, grid, out=out)  # reloads the two kept runs
    xr.testing.assert_allclose(ds["test_accuracy"], serial["test_accuracy"])


@pytest.mark.parametrize("path", sorted(BENCH.glob("*.json")), ids=lambda p: p.name)
def test_benchmark_sweep_files_resolve(path):
    base, grid = sweep.load_spec(path)
    cfgs, coords = sweep.configs(base, grid)
    assert len(cfgs) == len(next(iter(coords.values())))


def test_bad_grid_is_refused_before_any_run():
    with pytest.raises(ValueError, match="unknown estimator 'nope'"):
        sweep.configs(QUICK, {"estimator": ["centered", "nope"]})
    with pytest.raises(ValueError, match="unknown config keys"):
        sweep.configs(QUICK, {"colour": ["red"]})


def test_sweep_cli(tmp_path):
    out = tmp_path / "c.nc"
    r = CliRunner().invoke(app, ["sweep", "-e", "centered", "-s", "0", "-s", "1", "--set",
                                 "epochs=1", "--set", "hidden=[8]", "--set", "limit_train=100",
                                 "--set", "limit_test=50", "--out", str(out), "-q"])
    assert r.exit_code == 0, r.output
    assert xr.open_dataset(out)["test_accuracy"].sizes["seed"] == 2

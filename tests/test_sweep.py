"""Sweeps: one Dataset with the grid's dims; every committed sweep file resolves."""

import sys
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
    """A key added to the config changes the hashed file name; the run is still reused."""
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
                     progress=lambda i, n, values, reused: done.append((i, n, values["estimator"])))
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
    with pytest.raises(ValueError, match="unknown setting 'colour'"):
        sweep.configs(QUICK, {"colour": ["red"]})


def test_duplicate_grid_values_are_refused_before_any_run(tmp_path, monkeypatch):
    """`-s 0 -s 0` used to train both runs and then fail to combine them."""
    trained = []
    monkeypatch.setattr(sweep, "run", lambda c, **kw: trained.append(c))
    with pytest.raises(ValueError, match=r"grid\['seed'\] repeats the value 0"):
        sweep.sweep(QUICK, {"estimator": ["centered"], "seed": [0, 1, 0]}, out=tmp_path / "d.nc")
    spec = tmp_path / "dup.json"
    spec.write_text('{"base": {"epochs": 1}, "grid": {"beta": [0.1, 0.10], "seed": [0]}}')
    with pytest.raises(ValueError, match=r"grid\['beta'\] repeats the value 0.1"):
        sweep.configs(*sweep.load_spec(spec))
    # a value that the defaults make equal to another: the same run twice
    with pytest.raises(ValueError, match="same run once their defaults are filled in"):
        sweep.configs(QUICK, {"estimator": ["centered"], "beta": [None, 0.2]})
    r = CliRunner().invoke(app, ["sweep", "-s", "0", "-s", "0", "--out", str(tmp_path / "c.nc")])
    assert r.exit_code == 2 and "grid['seed'] repeats the value 0" in r.output, r.output
    assert trained == [] and not (tmp_path / "c.nc.runs").exists()


def test_progress_lines_print_the_resolved_grid_values(tmp_path):
    """They used to print the unresolved config: `centered β=None seed=0`."""
    r = CliRunner().invoke(app, ["sweep", "-s", "0", "-s", "1", "--set", "epochs=1", "--set",
                                 "hidden=[8]", "--set", "limit_train=50", "--set",
                                 "limit_test=20", "--out", str(tmp_path / "p.nc")])
    assert r.exit_code == 0, r.output
    lines = [ln for ln in r.output.splitlines() if ln.startswith("run ")]
    assert lines == ["run 1/2 done: seed=0", "run 2/2 done: seed=1"], r.output
    again = CliRunner().invoke(app, ["sweep", "-s", "0", "-s", "1", "--set", "epochs=1", "--set",
                                     "hidden=[8]", "--set", "limit_train=50", "--set",
                                     "limit_test=20", "--out", str(tmp_path / "p.nc")])
    assert "run 1/2 reused: seed=0" in again.output, again.output
    cfg = sweep.RunConfig.from_dict({"estimator": "one-sided", "seed": 3})
    assert sweep.resolved_values(cfg, ["beta", "seed", "steps"]) == {
        "beta": 0.2, "seed": 3, "steps": 30}


def test_backends_are_a_registry(tmp_path):
    assert set(sweep.BACKENDS) >= {"local", "ray"}
    with pytest.raises(ValueError, match=r"unknown sweep backend 'slurm'; choose one of"):
        sweep.sweep(QUICK, {"seed": [0]}, backend="slurm")
    with pytest.raises(ValueError, match=r"'local' takes the options \['workers'\], got "
                                         r"\['cpus_per_run'\]"):
        sweep.sweep(QUICK, {"seed": [0]}, cpus_per_run=2)
    with pytest.raises(ValueError, match="workers must be an int >= 1, got 0"):
        sweep.sweep(QUICK, {"seed": [0]}, workers=0)
    r = CliRunner().invoke(app, ["sweep", "-s", "0", "--backend", "dask",
                                 "--out", str(tmp_path / "b.nc")])
    assert r.exit_code == 2 and "unknown sweep backend 'dask'" in r.output, r.output


def test_ray_backend_without_ray_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    trained = []
    monkeypatch.setattr(sweep, "run", lambda c, **kw: trained.append(c))
    with pytest.raises(ModuleNotFoundError, match=r"pip install 'thermoep\[ray\]'"):
        sweep.sweep(QUICK, {"seed": [0]}, backend="ray")
    r = CliRunner().invoke(app, ["sweep", "-s", "0", "--backend", "ray",
                                 "--out", str(tmp_path / "r.nc")])
    assert r.exit_code == 2, r.output
    (line,) = r.output.strip().splitlines()
    assert line.startswith("error: the ray backend needs Ray") and "thermoep[ray]" in line, line
    assert trained == []


def test_sweep_cli(tmp_path):
    out = tmp_path / "c.nc"
    r = CliRunner().invoke(app, ["sweep", "-e", "centered", "-s", "0", "-s", "1", "--set",
                                 "epochs=1", "--set", "hidden=[8]", "--set", "limit_train=100",
                                 "--set", "limit_test=50", "--out", str(out), "-q"])
    assert r.exit_code == 0, r.output
    assert xr.open_dataset(out)["test_accuracy"].sizes["seed"] == 2

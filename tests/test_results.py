"""Result schema, atomic netCDF write/load, sweep stacking and plots (docs/design.md §5)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from thermoep import plots, results
from thermoep.config import RunConfig

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

HISTORY = [
    {"train_accuracy": 0.5, "test_accuracy": 0.45, "train_loss": 1.2, "nudged_phases": 2.0,
     "wall_seconds": 0.7},
    {"train_accuracy": 0.7, "test_accuracy": 0.6, "train_loss": 0.8, "nudged_phases": 2.0,
     "wall_seconds": 0.6, "residual": 1e-3, "snr": 3.5},
    {"train_accuracy": 0.8, "test_accuracy": 0.7, "train_loss": 0.5, "nudged_phases": 2.0,
     "wall_seconds": 0.6, "test_loss": 0.6},
]
CONFIG = {
    "estimator": "centered", "beta": 0.2, "epochs": 3, "seed": 0, "hidden": (32, 16),
    "data_dir": Path("/tmp/data"), "metropolis": False, "device": None,
}


def _run(config: dict | None = None, history: list | None = None) -> xr.Dataset:
    return results.run_dataset(HISTORY if history is None else history,
                               CONFIG if config is None else config, name="demo")


def _is_png(path: Path) -> bool:
    data = Path(path).read_bytes()
    return len(data) > len(PNG_MAGIC) and data[:8] == PNG_MAGIC


def test_run_dataset_schema():
    ds = _run()
    assert ds.sizes == {"epoch": 3}
    assert ds["epoch"].values.tolist() == [1, 2, 3]
    assert list(ds.data_vars)[:3] == ["train_accuracy", "test_accuracy", "train_loss"]
    assert "snr" in ds.data_vars  # extra metrics are kept
    assert all(v.dtype == np.float64 and v.dims == ("epoch",) for v in ds.data_vars.values())
    assert np.isnan(ds["residual"].values[[0, 2]]).all() and ds["residual"].values[1] == 1e-3
    assert np.isnan(ds["test_loss"].values[:2]).all()
    assert "lr" not in ds.data_vars  # only metrics that occur
    assert ds.attrs["beta"] == 0.2 and ds.attrs["estimator"] == "centered"
    assert ds.attrs["metropolis"] == 0 and "device" not in ds.attrs and "hidden" not in ds.attrs
    assert ds.attrs["schema_version"] == results.SCHEMA_VERSION
    assert ds.attrs["thermoep_version"] not in ("", "unknown")
    assert ds.attrs["created"].endswith("+00:00")


def test_run_dataset_rejects_non_numbers_and_unserialisable_config():
    with pytest.raises(TypeError, match="train_loss"):
        results.run_dataset([{"train_loss": "oops"}], {})
    with pytest.raises(TypeError, match="config.obj"):
        results.run_dataset(HISTORY, {"obj": object()})


def test_round_trip(tmp_path):
    ds = _run()
    out = results.write(ds, tmp_path / "run.nc")
    assert out == tmp_path / "run.nc" and out.is_file()
    back = results.load(out)
    xr.testing.assert_identical(back[list(ds.data_vars)].drop_attrs(), ds.drop_attrs())
    cfg = results.config_of(back)
    assert cfg == {**CONFIG, "hidden": [32, 16], "data_dir": "/tmp/data"}
    assert back.attrs["thermoep_version"] == ds.attrs["thermoep_version"]
    assert int(back.attrs["schema_version"]) == results.SCHEMA_VERSION
    assert back.attrs["beta"] == 0.2
    # load closes the file: overwriting in place works and gives the new values
    results.write(_run(history=HISTORY[:2]), out)
    assert results.load(out).sizes["epoch"] == 2


def test_write_is_atomic(tmp_path):
    path = tmp_path / "run.nc"
    results.write(_run(), path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.nc"]


def test_failed_write_leaves_no_partial_file(tmp_path, monkeypatch):
    def broken(self, target, *args, **kwargs):
        Path(target).write_bytes(b"partial")
        raise RuntimeError("disk full")

    monkeypatch.setattr(xr.Dataset, "to_netcdf", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        results.write(_run(), tmp_path / "new.nc")
    assert list(tmp_path.iterdir()) == []


def test_failed_overwrite_keeps_old_file(tmp_path, monkeypatch):
    path = results.write(_run(), tmp_path / "run.nc")
    before = path.read_bytes()

    def broken(self, target, *args, **kwargs):
        Path(target).write_bytes(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(xr.Dataset, "to_netcdf", broken)
    with pytest.raises(KeyboardInterrupt):
        results.write(_run(), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["run.nc"]


def test_check_writable(tmp_path):
    assert results.check_writable(tmp_path / "ok.nc") == tmp_path / "ok.nc"
    with pytest.raises(ValueError, match="does not exist"):
        results.check_writable(tmp_path / "missing" / "run.nc")
    with pytest.raises(ValueError, match="is a directory"):
        results.check_writable(tmp_path)
    with pytest.raises(ValueError, match="missing"):
        results.write(_run(), tmp_path / "missing" / "run.nc")


def test_load_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.nc"):
        results.load(tmp_path / "nope.nc")


def _sweep() -> xr.Dataset:
    runs, coords = [], {"estimator": [], "beta": [], "seed": []}
    for estimator in ("one_sided", "centered"):
        for beta in (0.01, 0.1, 1.0):
            for seed in (0, 1):
                if estimator == "centered" and beta == 1.0 and seed == 1:
                    continue  # a missing combination → NaN
                n = 2 if beta == 0.01 else 3  # shorter runs → NaN padded epochs
                hist = [{"test_accuracy": 0.5 + 0.1 * e + 0.01 * seed, "train_loss": 1.0 / (e + 1)}
                        for e in range(n)]
                cfg = {**CONFIG, "estimator": estimator, "beta": beta, "seed": seed}
                runs.append(results.run_dataset(hist, cfg))
                coords["estimator"].append(estimator)
                coords["beta"].append(beta)
                coords["seed"].append(seed)
    return results.combine_runs(runs, coords)


def test_combine_runs_dims_and_padding(tmp_path):
    ds = _sweep()
    assert ds["test_accuracy"].dims == ("estimator", "beta", "seed", "epoch")
    assert ds["test_accuracy"].shape == (2, 3, 2, 3)
    assert ds["estimator"].values.tolist() == ["one_sided", "centered"]
    assert ds["beta"].values.tolist() == [0.01, 0.1, 1.0]
    acc = ds["test_accuracy"]
    assert np.isnan(acc.sel(beta=0.01, epoch=3)).all()
    assert not np.isnan(acc.sel(beta=0.01, epoch=2)).any()
    assert np.isnan(acc.sel(estimator="centered", beta=1.0, seed=1)).all()
    assert math.isclose(float(acc.sel(estimator="centered", beta=0.1, seed=1, epoch=3)), 0.71)
    cfg = results.config_of(ds)
    assert cfg["epochs"] == 3 and "beta" not in cfg and "estimator" not in cfg
    assert ds.attrs["kind"] == "sweep" and "thermoep_version" in ds.attrs
    back = results.load(results.write(ds, tmp_path / "sweep.nc"))
    np.testing.assert_array_equal(back["test_accuracy"].values, acc.values)
    rows = results.summary_table(back)
    assert len(rows) == 7 * 3 + 4 * 2  # 11 runs: 7 with 3 epochs, 4 (beta=0.01) with 2
    assert set(rows[0]) == {"estimator", "beta", "seed", "epoch", "test_accuracy", "train_loss"}


def test_combine_runs_validation():
    run = _run()
    with pytest.raises(ValueError, match="one per run"):
        results.combine_runs([run, run], {"seed": [0]})
    with pytest.raises(ValueError, match="distinct"):
        results.combine_runs([run, run], {"seed": [0, 0]})
    with pytest.raises(ValueError, match="at least one"):
        results.combine_runs([], {"seed": []})


def test_summary_table_run():
    rows = results.summary_table(_run())
    assert [r["epoch"] for r in rows] == [1, 2, 3]
    assert isinstance(rows[0]["epoch"], int) and rows[0]["train_accuracy"] == 0.5
    assert math.isnan(rows[0]["residual"])


def test_plot_run(tmp_path):
    assert _is_png(plots.plot_run(_run(), tmp_path / "run.png"))


def test_plot_sweep(tmp_path):
    assert _is_png(plots.plot_sweep(_sweep(), tmp_path / "sweep.png"))
    no_beta = _sweep().isel(beta=1)
    assert _is_png(plots.plot_sweep(no_beta.drop_vars("beta"), tmp_path / "curves.png"))


def _diagnostic() -> xr.Dataset:
    beta = np.geomspace(1e-3, 1.0, 7)
    snr = np.stack([1.0 / beta, 2.0 / beta])
    return xr.Dataset(
        {"snr": (("estimator", "beta"), snr), "bias": ("beta", beta**2)},
        coords={"estimator": ["one_sided", "centered"], "beta": beta},
        attrs={"kind": "diagnostic", "x": "beta", "logx": 1, "logy": 1},
    )


def test_plot_curves(tmp_path):
    out = plots.plot_curves(_diagnostic(), tmp_path / "snr.png", x="beta", y=["snr", "bias"],
                            logx=True, logy=True, title="SNR")
    assert _is_png(out)
    with pytest.raises(ValueError, match="nope"):
        plots.plot_curves(_diagnostic(), tmp_path / "x.png", x="beta", y=["nope"])


def test_plot_any_dispatch(tmp_path, monkeypatch):
    called = []
    for name in ("plot_run", "plot_sweep", "plot_curves"):
        original = getattr(plots, name)

        def spy(*args, _name=name, _original=original, **kwargs):
            called.append(_name)
            return _original(*args, **kwargs)

        monkeypatch.setattr(plots, name, spy)
    assert _is_png(plots.plot_any(_run(), tmp_path / "a.png"))
    assert _is_png(plots.plot_any(_sweep(), tmp_path / "b.png"))
    diag = results.load(results.write(_diagnostic(), tmp_path / "diag.nc"))
    assert _is_png(plots.plot_any(diag, tmp_path / "c.png"))
    assert called == ["plot_run", "plot_sweep", "plot_curves"]
    with pytest.raises(ValueError, match="don't know"):
        plots.plot_any(xr.Dataset({"a": ("k", [1.0])}), tmp_path / "d.png")


def test_plots_have_no_pyplot_side_effects(tmp_path):
    import sys

    plots.plot_run(_run(), tmp_path / "run.png")
    if "matplotlib.pyplot" in sys.modules:
        assert sys.modules["matplotlib.pyplot"].get_fignums() == []


LONG_CONFIG = {**CONFIG, "estimator": "hybrid-inverse-cosine", "sampler": "langevin",
               "energy": "prototypical", "dataset": "fashion-mnist", "temperature": 0.01}


def _clipped(fig) -> list[str]:
    """What of the drawn figure (titles, labels, ticks, legends) leaves the canvas, if anything.

    ``get_tightbbox`` covers every artist that is drawn (ticks beyond the limits are not).
    """
    renderer = fig.canvas.get_renderer()
    fig.draw(renderer)
    tight, (width, height) = fig.get_tightbbox(renderer), fig.get_size_inches()
    eps = 1 / fig.dpi  # one pixel
    sides = {"left": tight.x0 < -eps, "bottom": tight.y0 < -eps,
             "right": tight.x1 > width + eps, "top": tight.y1 > height + eps}
    return [side for side, out in sides.items() if out]


@pytest.mark.parametrize("kind", ["run", "sweep", "curves", "compare"])
def test_plot_titles_and_labels_are_not_clipped(tmp_path, monkeypatch, kind):
    checked = []
    original = plots._save

    def check_then_save(fig, path):
        checked.append(_clipped(fig))
        return original(fig, path)

    monkeypatch.setattr(plots, "_save", check_then_save)
    long_name = "fashion-mnist-hybrid-inverse-cosine-prototypical-readout-warmup-seed-123"
    if kind == "run":
        plots.plot_run(results.run_dataset(HISTORY, LONG_CONFIG, name=long_name),
                       tmp_path / "run.png")
    elif kind == "sweep":
        ds = _sweep()
        ds.attrs.update(name=long_name, sampler="langevin", energy="prototypical",
                        dataset="fashion-mnist", temperature=0.01)
        plots.plot_sweep(ds, tmp_path / "sweep.png")
    elif kind == "curves":
        plots.plot_curves(_diagnostic(), tmp_path / "snr.png", x="beta", y=["snr", "bias"],
                          title=f"{long_name}: signal-to-noise ratio of the estimators vs beta")
    else:
        runs = {f"{long_name} [seed={seed}]": run for seed, run in enumerate(
            run for _, run in results.split_runs(_sweep()))}
        plots.plot_compare(runs, tmp_path / "compare.png", title=long_name * 2)
    assert checked == [[]]


def test_split_runs_and_final_metrics():
    runs = results.split_runs(_sweep())
    assert len(runs) == 11  # 2 estimators x 3 betas x 2 seeds, one combination missing
    coords, run = runs[0]
    assert coords == {"estimator": "one_sided", "beta": 0.01, "seed": 0}
    assert run.sizes == {"epoch": 2}  # the NaN padding of a shorter run is dropped
    row = results.final_metrics(run)
    assert row["epochs"] == 2 and row["test_accuracy"] == pytest.approx(0.6)
    assert row["best_test_accuracy"] == pytest.approx(0.6)
    assert results.split_runs(_run())[0][0] == {}
    timed = results.run_dataset([{"train_seconds": 2.0}, {"train_seconds": 4.0}], {})
    assert results.final_metrics(timed)["train_seconds"] == 3.0  # seconds per epoch
    with pytest.raises(ValueError, match="split_runs"):
        results.final_metrics(_sweep())


TRAINING_HISTORY = [
    {"train_accuracy": 0.5, "train_loss": 1.2, "test_accuracy": 0.45, "test_loss": 1.3,
     "nudged_phases": 20.0, "wall_seconds": 3.0, "train_seconds": 2.5, "residual": 1e-4,
     "acceptance": math.nan, "lr": 0.01, "beta": 0.2, "p_std": 0.5, "disagreement": 0.1,
     "test_accuracy_online": 0.44, "test_loss_online": 1.31, "lipschitz": 0.9},
    {"train_accuracy": 0.6, "train_loss": 1.0, "test_accuracy": 0.55, "test_loss": 1.1,
     "nudged_phases": 40.0, "wall_seconds": 6.5, "train_seconds": 2.4, "residual": 1e-4,
     "acceptance": math.nan, "lr": 0.01, "beta": 0.2, "p_std": 0.4, "disagreement": 0.1,
     "test_accuracy_online": 0.54, "test_loss_online": 1.12, "lipschitz": 0.9},
]


def test_epoch_variables_have_long_name_and_units(tmp_path):
    ds = results.run_dataset(TRAINING_HISTORY, CONFIG)
    for name, var in ds.data_vars.items():
        assert var.attrs.get("long_name") and "units" in var.attrs, name
        assert name in results.__doc__, f"{name} missing from the results docstring table"
    assert ds["wall_seconds"].attrs["units"] == "s" and "cumulative" in \
        ds["wall_seconds"].attrs["long_name"]
    assert ds["train_seconds"].attrs["units"] == "s" and "this epoch" in \
        ds["train_seconds"].attrs["long_name"]
    assert "cumulative" in ds["nudged_phases"].attrs["long_name"]
    back = results.load(results.write(ds, tmp_path / "r.nc"))
    assert back["train_seconds"].attrs == ds["train_seconds"].attrs
    swept = results.combine_runs([ds, ds], {"seed": [0, 1]})
    assert swept["wall_seconds"].attrs == ds["wall_seconds"].attrs
    assert "long_name" not in results.run_dataset([{"snr": 1.0}], {})["snr"].attrs


def test_every_variable_a_training_run_records_is_documented(tmp_path):
    from thermoep.experiment import run

    cfg = RunConfig.of(epochs=1, limit_train=64, limit_test=32, hidden=(8,), ema_decay=0.9,
                      estimator="hybrid-cosine")
    ds = run(cfg, quiet=True)
    undocumented = [k for k, v in ds.data_vars.items() if "long_name" not in v.attrs]
    assert undocumented == [] and "train_seconds" in ds.data_vars


def test_configuration_key_tells_seeds_of_one_configuration_apart_from_other_settings():
    def run(**cfg):
        return xr.Dataset(attrs={"config": json.dumps(cfg)})

    base = {"sampler": {"steps": 15, "mode": "blocks"}, "run": {"seed": 0, "epochs": 25}}
    key = results.configuration_key(run(**base), {})
    reseeded = {**base, "run": {"seed": 3, "epochs": 25}}
    assert results.configuration_key(run(**reseeded), {}) == key
    assert results.run_seed(run(**reseeded), {}) == 3
    # a setting a later version added with its default None is no difference
    newer = {**base, "run": {"seed": 1, "epochs": 25, "eval_steps": None}}
    assert results.configuration_key(run(**newer), {}) == key
    other = {**base, "sampler": {"steps": 12, "mode": "blocks"}}
    assert results.configuration_key(run(**other), {}) != key
    # a sweep's grid point: the seed coordinate is the seed, the others are settings
    assert results.configuration_key(run(**base), {"beta": 0.1, "seed": 0}) == \
        results.configuration_key(run(**base), {"beta": 0.1, "seed": 1}) != \
        results.configuration_key(run(**base), {"beta": 1.0, "seed": 0})
    assert results.run_seed(run(**base), {"beta": 0.1, "seed": 7}) == 7
    assert results.run_seed(xr.Dataset(), {}) is None


def test_compare_draws_a_group_of_seeds_with_its_mean_over_shared_epochs(tmp_path, monkeypatch):
    drawn = []
    original = plots._save

    def capture(fig, path):
        drawn.extend((line.get_label(), list(line.get_ydata())) for ax in fig.axes
                     for line in ax.get_lines())
        return original(fig, path)

    monkeypatch.setattr(plots, "_save", capture)
    runs = {f"s{s}": results.run_dataset(
        [{"test_accuracy": 0.5 + 0.1 * e + 0.02 * s} for e in range(3 + s)], CONFIG)
        for s in range(2)}
    runs["other"] = results.run_dataset([{"test_accuracy": 0.9}] * 2, CONFIG)
    plots.plot_compare(runs, tmp_path / "c.png", groups={"seeds": ["s0", "s1"],
                                                         "other": ["other"]})
    mean = dict(drawn)["seeds (mean of 2)"]
    assert np.allclose(mean, [0.51, 0.61, 0.71])  # epochs 1–3, the ones both runs have
    assert [label for label, _ in drawn if not label.startswith("_")] == \
        ["seeds (mean of 2)", "other"]
    for groups, message in (({"seeds": ["s0", "s1"]}, "in no group: \\['other'\\]"),
                            ({"a": ["s0", "s1", "other"], "b": ["other"]}, "in two groups"),
                            ({"a": ["s0", "s1", "other", "s9"]}, "not runs: \\['s9'\\]")):
        with pytest.raises(ValueError, match=message):
            plots.plot_compare(runs, tmp_path / "c.png", groups=groups)

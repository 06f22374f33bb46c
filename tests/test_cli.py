"""The command line: help, the main job, report, and bad input (one red line, exit != 0)."""

import pytest
import xarray as xr
from typer.testing import CliRunner

from thermoep.cli import app

runner = CliRunner()
QUICK = ["--epochs", "2", "--limit-train", "200", "--limit-test", "100", "--hidden", "16",
         "--quiet"]


def test_help_lists_commands_and_choices():
    r = runner.invoke(app, ["--help"])
    assert r.exit_code == 0 and "train" in r.output and "report" in r.output
    r = runner.invoke(app, ["train", "--help"])
    assert r.exit_code == 0
    for word in ("--path-integral", "--beta", "--temperature", "--sampler", "--resume",
                 "finite-nudge", "langevin"):
        assert word in r.output


def test_train_path_integral_writes_results_then_report(tmp_path):
    out = tmp_path / "pi.nc"
    r = runner.invoke(app, ["train", "--beta", "1.0", "--path-integral", *QUICK,
                            "--steps", "12", "--burn-in", "4", "--out", str(out)])
    assert r.exit_code == 0, r.output
    ds = xr.open_dataset(out)
    assert ds["test_accuracy"].dims == ("epoch",) and ds.sizes["epoch"] == 2
    assert ds.attrs["estimator"] == "path-integral" and ds.attrs["temperature"] > 0
    ds.close()
    r = runner.invoke(app, ["report", str(out)])
    assert r.exit_code == 0, r.output
    assert "test acc" in r.output
    png = out.with_suffix(".png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_train_prototypical_energy_with_global_standardisation(tmp_path):
    out = tmp_path / "proto.nc"
    r = runner.invoke(app, ["train", *QUICK, "--energy", "prototypical", "--standardize-global",
                            "--estimator", "hybrid-cosine", "--beta", "0.1", "--lr", "0.01",
                            "--out", str(out)])
    assert r.exit_code == 0, r.output
    with xr.open_dataset(out) as ds:
        assert ds.attrs["energy"] == "prototypical" and ds.attrs["data.standardize"] == "global"
        assert float(ds["test_accuracy"][-1]) > 0.3  # 10 classes of digits: chance is 0.1


@pytest.mark.parametrize(
    "args, message",
    [
        (["--dataset", "imagenet"], "unknown dataset 'imagenet'"),
        (["--estimator", "magic"], "unknown estimator 'magic'"),
        (["--estimator", "one-sided", "--beta", "0"], "beta must be non-zero"),
        (["--temperature", "-1", "--estimator", "finite-nudge"], "temperature must be > 0"),
        (["--set", "model.depth=3"], "model 'hopfield' has no parameter 'depth'"),
        (["--sampler", "gibbs", "--activation", "sigmoid4"], "sigmoid4 units have no"),
        (["--energy", "spin-glass"], "unknown model 'spin-glass'"),
        (["--energy", "prototypical", "--estimator", "finite-nudge"], "Langevin"),
        (["--out", "/nonexistent-dir/x.nc"], "nonexistent-dir"),
        (["--layer-lrs", "0.1,fast"], "comma-separated numbers for --layer-lrs"),
        (["--layer-lrs", "0.1"], "needs 2 learning rates"),
        (["--ema-decay", "1"], "ema_decay must be in [0, 1)"),
    ],
)
def test_bad_input_is_one_red_line(tmp_path, args, message):
    out = tmp_path / "r.nc"
    full = ["train", *QUICK, "--out", str(out), *args] if "--out" not in args else \
        ["train", *QUICK, *args]
    r = runner.invoke(app, full)
    assert r.exit_code != 0
    assert message in r.output.replace("\n", " ")
    assert "Traceback" not in r.output
    assert not out.exists()


def test_resume_without_checkpoint(tmp_path):
    r = runner.invoke(app, ["train", *QUICK, "--out", str(tmp_path / "x.nc"), "--resume"])
    assert r.exit_code != 0 and "no checkpoint" in r.output


def test_report_missing_file(tmp_path):
    r = runner.invoke(app, ["report", str(tmp_path / "missing.nc")])
    assert r.exit_code != 0 and "missing.nc" in r.output


def test_report_draws_a_diagnostic(tmp_path):
    out = tmp_path / "snr.nc"
    r = runner.invoke(app, ["diagnose", "snr", "--out", str(out), "--temperature", "0"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["report", str(out)])
    assert r.exit_code == 0, r.output
    assert "beta" in r.output
    assert out.with_suffix(".png").read_bytes()[:4] == b"\x89PNG"


def test_train_records_lipschitz(tmp_path):
    out = tmp_path / "l.nc"
    r = runner.invoke(app, ["train", *QUICK, "--lipschitz", "--out", str(out)])
    assert r.exit_code == 0, r.output
    lip = xr.open_dataset(out)["lipschitz"].values
    assert lip.shape == (2,) and ((lip > 0) & (lip < 1)).all()

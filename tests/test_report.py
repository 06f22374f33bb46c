"""``thermoep report``: unreadable files are one red line; several files compare runs."""

from __future__ import annotations

from pathlib import Path

import pytest
import xarray as xr
from typer.testing import CliRunner

from thermoep import results
from thermoep.cli import app

runner = CliRunner()
NOT_RESULTS = "not a thermoep results file (netCDF)"


def _history(epochs: int, start: float = 0.3, step: float = 0.1) -> list[dict]:
    return [{"train_accuracy": start + step * e, "test_accuracy": start + step * e - 0.05,
             "train_loss": 1.0 / (e + 1), "nudged_phases": 10.0 * (e + 1),
             "wall_seconds": 1.5 * (e + 1), "train_seconds": 1.2} for e in range(epochs)]


def _write_run(path: Path, name: str = "digits-centered", epochs: int = 3, **kw) -> Path:
    ds = results.run_dataset(_history(epochs, **kw), {"estimator": "centered", "beta": 0.2,
                                                      "dataset": "digits"}, name=name)
    return results.write(ds, path)


def _corrupt(kind: str, path: Path) -> Path:
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_text("epoch,test_accuracy\n1,0.5\n")
    elif kind == "truncated":
        data = _write_run(path).read_bytes()
        path.write_bytes(data[: len(data) // 2])
    return path


WHAT = {"empty": "empty", "text": "not netCDF", "truncated": "truncated or unreadable"}


@pytest.mark.parametrize("kind", ["empty", "text", "truncated"])
def test_load_says_what_was_found(tmp_path, kind):
    path = _corrupt(kind, tmp_path / "r.nc")
    with pytest.raises(ValueError) as info:
        results.load(path)
    message = str(info.value)
    assert message.startswith(f"{path}: {NOT_RESULTS}") and WHAT[kind] in message
    assert "\n" not in message


def test_load_refuses_a_netcdf_file_thermoep_did_not_write(tmp_path):
    path = tmp_path / "other.nc"
    xr.Dataset({"a": ("x", [1.0, 2.0])}).to_netcdf(path)
    with pytest.raises(ValueError, match="without the attrs thermoep writes") as info:
        results.load(path)
    assert str(info.value).startswith(f"{path}: {NOT_RESULTS}")


@pytest.mark.parametrize("kind", ["empty", "text", "truncated"])
def test_report_on_an_unreadable_file_is_one_red_line(tmp_path, kind):
    path = _corrupt(kind, tmp_path / "r.nc")
    r = runner.invoke(app, ["report", str(path)])
    assert r.exit_code == 2
    lines = r.output.strip().splitlines()
    assert len(lines) == 1, r.output
    assert NOT_RESULTS in lines[0] and str(path) in lines[0] and WHAT[kind] in lines[0]
    assert "Traceback" not in r.output and not path.with_suffix(".png").exists()

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


LONG_NAMES = ("hybrid-inverse-cosine", "one-sided-random-sign", "adaptive-hybrid")


def _history_all(epochs: int, offset: float) -> list[dict]:
    """Every metric a training run records, so the table has many columns."""
    return [{**row, "test_loss": 1.1, "residual": 1e-4, "lr": 0.01, "beta": 0.2, "p_std": 0.5,
             "disagreement": 0.01, "test_accuracy_online": row["test_accuracy"] - 0.01,
             "test_loss_online": 1.2} for row in _history(epochs, start=0.3 + offset)]


def _write_sweep(path: Path) -> Path:
    runs, coords = [], {"estimator": [], "seed": []}
    for i, estimator in enumerate(LONG_NAMES):
        for seed in (0, 1):
            runs.append(results.run_dataset(_history_all(3, 0.01 * i + 0.001 * seed),
                                            {"estimator": estimator, "seed": seed}))
            coords["estimator"].append(estimator)
            coords["seed"].append(seed)
    return results.write(results.combine_runs(runs, coords, name="long-names"), path)


def test_report_table_is_not_cut_when_piped(tmp_path):
    path = _write_sweep(tmp_path / "sweep.nc")
    r = runner.invoke(app, ["report", str(path)])
    assert r.exit_code == 0, r.output
    assert "…" not in r.output
    for name in LONG_NAMES:  # each row on one line, with its full estimator name
        assert sum(name in line and "%" in line for line in r.output.splitlines()) == 6


def test_report_table_wraps_columns_on_an_80_column_terminal(tmp_path, monkeypatch):
    from rich.console import Console

    import thermoep.cli.report as report

    monkeypatch.setattr(report, "out", Console(width=80, force_terminal=True, color_system=None))
    path = _write_sweep(tmp_path / "sweep.nc")
    r = runner.invoke(app, ["report", str(path)])
    assert r.exit_code == 0, r.output
    assert "…" not in r.output and max(len(line) for line in r.output.splitlines()) <= 80
    for name in LONG_NAMES:
        assert name in r.output
    for label in ("test acc", "online acc", "p_std", "disagreement"):  # every column is shown
        assert label in r.output


def _capture_figures(monkeypatch) -> list:
    from thermoep import plots

    figures, original = [], plots._save

    def capture(fig, path):
        figures.append([(line.get_label(), len(line.get_xdata())) for ax in fig.axes
                        for line in ax.get_lines()])
        return original(fig, path)

    monkeypatch.setattr(plots, "_save", capture)
    return figures


def test_report_compares_several_runs(tmp_path, monkeypatch):
    figures = _capture_figures(monkeypatch)
    a = _write_run(tmp_path / "adam.nc", epochs=3)
    b = _write_run(tmp_path / "sgd.nc", epochs=5, start=0.2, step=0.05)
    sweep = _write_sweep(tmp_path / "sweep.nc")
    r = runner.invoke(app, ["report", str(a), str(b), str(sweep)])
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    row_a = next(line for line in lines if "adam" in line)
    row_b = next(line for line in lines if "sgd" in line)
    assert "45.00%" in row_a and " 3 " in row_a  # final test accuracy 0.3 + 0.2 - 0.05
    assert "35.00%" in row_b and " 5 " in row_b  # 0.2 + 4 * 0.05 - 0.05
    for name in LONG_NAMES:
        assert any(name in line and "seed=1" in line for line in lines)
    png = tmp_path / "adam-vs-sgd-vs-sweep.png"
    assert png.read_bytes()[:4] == b"\x89PNG" and str(png) in r.output
    # one curve per run; the seeds of one configuration (a sweep's estimator) in one colour,
    # with their mean; runs without a seed (adam, sgd: the same config) stay apart
    assert len(figures) == 1 and len(figures[0]) == 2 + 3 * len(LONG_NAMES)
    assert ("adam", 3) in figures[0] and ("sgd", 5) in figures[0]
    shown = [label for label, _ in figures[0] if not label.startswith("_")]
    assert len(shown) == 2 + len(LONG_NAMES)
    assert all(f"sweep [estimator={name}], seeds 0, 1 (mean of 2)" in shown
               for name in LONG_NAMES)
    assert not (tmp_path / "adam.png").exists()  # one comparison figure, not one per file
    r = runner.invoke(app, ["report", str(a), str(b), "--png", str(tmp_path / "c.png")])
    assert r.exit_code == 0 and (tmp_path / "c.png").is_file()


def test_compare_refuses_what_it_cannot_compare(tmp_path):
    a = _write_run(tmp_path / "a.nc")
    bad = _corrupt("text", tmp_path / "bad.nc")
    diag = results.write(xr.Dataset({"snr": ("beta", [1.0, 2.0])}, coords={"beta": [0.1, 1.0]},
                                    attrs={"kind": "diagnostic", "x": "beta"}), tmp_path / "d.nc")
    for args, message in (([a, bad], f"{bad}: {NOT_RESULTS}"), ([a, diag], "diagnostic"),
                          ([a, a], "given twice")):
        r = runner.invoke(app, ["report", *map(str, args)])
        assert r.exit_code == 2 and message in r.output, r.output
        assert len(r.output.strip().splitlines()) == 1

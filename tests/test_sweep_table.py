"""benchmarks/sweep_table.py: the markdown table keeps every name whole and aligned."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

from thermoep import results

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "sweep_table.py"
NAMES = ("centered", "hybrid-inverse-cosine", "one-sided-random-sign")


def test_sweep_table_names_are_whole_and_columns_aligned(tmp_path, monkeypatch, capsys):
    runs, coords = [], {"estimator": [], "seed": []}
    for i, estimator in enumerate(NAMES):
        for seed in (0, 1):
            history = [{"test_accuracy": 0.5 + 0.01 * (i + e + seed), "nudged_phases": 10.0 * e}
                       for e in range(1, 4)]
            runs.append(results.run_dataset(history, {"estimator": estimator, "seed": seed}))
            coords["estimator"].append(estimator)
            coords["seed"].append(seed)
    path = results.write(results.combine_runs(runs, coords), tmp_path / "sweep.nc")
    monkeypatch.setattr(sys, "argv", ["sweep_table.py", str(path)])
    runpy.run_path(str(SCRIPT), run_name="__main__")
    table = [line for line in capsys.readouterr().out.splitlines() if line.startswith("|")]
    assert len(table) == 2 + len(NAMES)
    assert len({len(line) for line in table}) == 1  # padded columns line up
    for name in NAMES:
        assert any(line.startswith(f"| {name} ") for line in table)
    assert path.with_suffix(".md").read_text().count("hybrid-inverse-cosine") == 1
    assert path.with_suffix(".png").read_bytes()[:4] == b"\x89PNG"

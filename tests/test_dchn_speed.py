"""benchmarks/dchn_speed.py at a tiny size (so the script cannot rot): the fields it writes,
and both relaxation modes reaching the tolerance and the same fixed point."""

import importlib.util
import json
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "dchn_speed.py"


def _module():
    spec = importlib.util.spec_from_file_location("dchn_speed", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_the_benchmark_runs_tiny_and_writes_its_fields(tmp_path):
    bench = _module()
    result = bench.main(["--tiny", "--small-batches", "1", "--tol", "1e-3", "--max-steps",
                         "400", "--out", str(tmp_path), "--name", "tiny"])
    stored = json.loads((tmp_path / "tiny.json").read_text())
    assert stored["command"].startswith("python benchmarks/dchn_speed.py --tiny")
    assert {"threads", "cpu", "torch"} <= set(stored["machine"])
    assert [r["label"] for r in stored["training"]] == ["CPU-sized", "seed-sized"]
    for r in stored["training"]:
        assert r["seconds_per_batch"] > 0 and r["seconds_per_step"] > 0
        assert len(r["batch_seconds"]) == r["batches"]
    assert [c["pool"] for c in stored["relaxation"]] == ["max", "avg"]
    for c in stored["relaxation"]:
        for mode in ("blocks", "jacobi"):
            m = c["modes"][mode]
            assert m["reached_tol"] and m["residual"] < c["tol"]
            assert m["steps"] == len(m["trace"]) and m["jacobi_residual"] < 10 * c["tol"]
            assert m["residual_at_async_steps"] is not None
        # at this size both modes settle on one fixed point
        assert c["max_abs_state_difference"] < 1e-2
        assert c["steps_ratio"] > 0 and c["seconds_ratio"] > 0
    text = (tmp_path / "tiny.md").read_text()
    assert "| async (blocks) |" in text and "| sync (jacobi) |" in text
    assert result["name"] == "tiny"

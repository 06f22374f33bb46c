"""benchmarks/gpu_check.py: its "no CUDA" exit here, and its GPU path on the CPU at a tiny size
(so the check a GPU machine runs cannot rot unseen)."""

import json
import subprocess
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "gpu_check.py"


def test_without_cuda_it_says_so_and_exits_0():
    if torch.cuda.is_available():
        return  # (a GPU machine runs the real check)
    r = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0 and "CUDA is not available" in r.stdout


def test_its_code_path_runs_on_the_cpu(tmp_path):
    out = tmp_path / "gpu_check.jsonl"
    # as on the GPU machines, which have no Pyro: importing it fails
    run = ("import runpy, sys; sys.modules['pyro'] = None; "
           f"sys.argv = [{str(SCRIPT)!r}, '--device', 'cpu', '--tiny', '--out', {str(out)!r}]; "
           f"runpy.run_path({str(SCRIPT)!r}, run_name='__main__')")
    r = subprocess.run([sys.executable, "-c", run], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert lines[0]["part"] == "machine" and lines[0]["tiny"] is True
    dchn = [ln for ln in lines if ln["part"] == "dchn"]
    assert [ln["precision"] for ln in dchn] == ["float32", "float16"]
    assert dchn[0]["seconds_per_batch"] > 0 and dchn[0]["seconds_per_epoch"] > 0
    assert "seconds_per_batch" in dchn[1] or "error" in dchn[1]
    thermo = [ln for ln in lines if ln["part"] == "thermo"]
    assert len(thermo) == 1 and thermo[0]["ratio_to_centered"]["centered"] == 1.0
    assert set(thermo[0]["ms_per_batch"]) == {
        "centered", "finite-nudge", "finite-nudge-blocks", "finite-nudge-blocks15",
        "path-integral-warm6", "path-integral"}
    assert all(v > 0 for v in thermo[0]["ms_per_batch"].values())

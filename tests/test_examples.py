"""Every script of examples/ runs as a user runs it, and prints what it claims.

Each example runs in a fresh interpreter (a subprocess), in an empty directory, with nothing but
the repository on the path and one torch thread (the models are tiny: threads only add overhead),
in its ``--quick`` form. The checks read the numbers it prints — a gradient within 5 standard
errors of enumeration, a cosine with implicit differentiation, an SNR that collapses for
independent chains only, a magnetisation that orders below T_c — not only its exit code.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"

pytestmark = pytest.mark.skipif(not EXAMPLES.is_dir(),
                                reason="examples/ is not part of this tree (an sdist)")


def run(script: str, *args: str, cwd: Path) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, str(EXAMPLES / script), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"{script} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def number(pattern: str, text: str) -> float:
    """The first group of ``pattern`` in ``text``, as a float."""
    match = re.search(pattern, text)
    assert match, f"expected {pattern!r} in the output:\n{text}"
    return float(match.group(1))


def test_every_example_is_tested():
    tested = {"boltzmann_gibbs.py", "custom_term.py", "diagnostics_snr.py", "sweep_xarray.py",
              "observers.py"}
    assert {p.name for p in EXAMPLES.glob("*.py")} == tested
    listed = (EXAMPLES / "README.md").read_text(encoding="utf-8")
    assert all(f"`{name}`" in listed for name in tested), "examples/README.md misses a script"


def test_boltzmann_gibbs(tmp_path):
    out = run("boltzmann_gibbs.py", "--quick", cwd=tmp_path)
    before = number(r"before training: exact E\[loss\] (\d+\.\d+)", out)
    after = number(r"after 40 steps: exact E\[loss\] (\d+\.\d+)", out)
    assert after < 0.7 * before
    assert number(r"after 40 steps: .* exact accuracy (\d\.\d+)", out) >= 0.75
    # one line per parameter, each within 5 standard errors of the exact gradient
    zs = [float(v) for v in re.findall(r"largest \|error\|/SE (\d+\.\d+)", out)]
    assert len(zs) == 5 and max(zs) < 5
    assert number(r"cosine with exact (-?\d\.\d+)", out) > 0.95
    assert not list(tmp_path.iterdir())


def test_custom_term(tmp_path):
    out = run("custom_term.py", "--quick", cwd=tmp_path)
    assert "quartic_h.log_strength [32]" in out          # the term's parameter is trained
    assert number(r"test accuracy after 60 steps: (\d\.\d+)", out) > 0.8
    assert number(r"quartic_h.log_strength +cosine (\d\.\d+)", out) > 0.9999
    assert number(r"beta 0.01: cosine with implicit differentiation (\d\.\d+)", out) > 0.9999
    assert number(r"beta 0.01: .* relative error (\S+)", out) < 1e-3
    # centered EP's bias is O(β²): halving β divides the error by 4
    assert 3.5 < number(r"error ratio beta 0.02 / 0.01: (\d+\.\d+)", out) < 4.5


def test_diagnostics_snr(tmp_path):
    out = run("diagnostics_snr.py", "figs/snr.png", "--quick", cwd=tmp_path)
    assert number(r"independent chains: SNR falls (\S+)x", out) > 5
    assert 0.5 < number(r"coupled chains: SNR changes (\S+)x", out) < 2
    assert number(r"at beta 0.01 it is (\S+)x the independent", out) > 10
    one_sided = re.search(r"^0\.01\s+(\d\.\d+)\s+(\d\.\d+)", out, re.MULTILINE)
    assert one_sided and min(map(float, one_sided.groups())) > 0.99   # one-sided, centered
    for name in ("snr.png", "snr-alignment.png"):
        png = tmp_path / "figs" / name
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
        assert f"wrote figs/{name}" in out


def test_sweep_xarray(tmp_path):
    out = run("sweep_xarray.py", "--out", "sweep.nc", cwd=tmp_path)
    assert len(re.findall(r"run \d/4 trained", out)) == 4
    assert re.search(r"dims \{.*'estimator': 2.*'seed': 2", out)
    for name in ("one-sided", "centered"):
        assert number(rf"(?m)^{name} +(\d+\.\d+)", out) > 70  # test %, mean over seeds
    assert "one-sided spends 0.50 of centered's nudged phases" in out
    assert (tmp_path / "sweep.nc").is_file()
    again = run("sweep_xarray.py", "--out", "sweep.nc", cwd=tmp_path)  # kept runs are reused
    assert len(re.findall(r"run \d/4 reused", again)) == 4


def test_observers(tmp_path):
    out = run("observers.py", "--quick", cwd=tmp_path)
    assert number(r"by enumeration \d\.\d+: (\d+\.\d) SE apart", out) < 5
    assert "2 Gibbs blocks of [32, 32] spins" in out   # the checkerboard
    m = {float(t): float(v) for t, v in re.findall(r"T = (\d\.\d+): <\|m\|> = (\d\.\d+)", out)}
    assert set(m) == {1.5, 2.0, 2.27, 2.6, 3.5}
    assert m[1.5] > 0.95 and m[2.0] > 0.8 and m[3.5] < 0.4
    assert m[1.5] > m[2.27] > m[3.5]
    assert len(re.findall(r"m per chain:( [+-]\d\.\d\d){8}$", out, re.MULTILINE)) == 5
    assert "|m| falls as T rises through T_c: True" in out

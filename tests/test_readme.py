"""Every ```python block of README.md, and of the guides to energies, samplers and estimators,
runs as written in a fresh interpreter.

A user pastes README's blocks into an empty session, so each one runs in its own `python`
process, in an empty directory, with nothing but the repository on the path; it must exit 0 and
print what EXPECTED says. A new block needs its line in EXPECTED, so none goes unchecked. A guide
is read top to bottom, each block building on the ones before it, so a guide's blocks run in
order in one process; they check their claims with asserts.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
GUIDES = [ROOT / "docs" / "guide" / f"{name}.md" for name in ("energies", "samplers", "estimators")]

#: per block, in order: patterns its output must contain (the checks the block prints)
EXPECTED = [
    # deterministic EP: it trains, and centered EP at a small β matches implicit differentiation
    [r"step  0  loss \d\.\d{4}  nudged phases 2",
     r"cosine with implicit differentiation: (0\.99\d{3}|1\.00000)"],
    # Gibbs-sampled Boltzmann machine against enumeration, within 5 standard errors
    [r"cosine with the exact gradient: 0\.9\d{3}", r"largest error: [0-4]\.\d\d standard errors"],
]

FENCE = re.compile(r"^```python\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def python_blocks(text: str) -> list[str]:
    return FENCE.findall(text)


BLOCKS = python_blocks(README.read_text(encoding="utf-8"))


def test_every_block_has_its_expectation():
    assert len(BLOCKS) == len(EXPECTED), (
        f"README.md has {len(BLOCKS)} python blocks, EXPECTED lists {len(EXPECTED)}: add the "
        "output a new block must print"
    )


def test_fence_pattern_finds_blocks():
    text = "x\n```python\nprint(1)\n```\n```bash\nls\n```\n```python\nprint(2)\n```\n"
    assert python_blocks(text) == ["print(1)\n", "print(2)\n"]


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_block_runs_as_written(index, tmp_path):
    if index >= len(EXPECTED):
        pytest.fail(f"README.md python block {index + 1} has no entry in EXPECTED")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}
    proc = subprocess.run([sys.executable, "-c", BLOCKS[index]], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"block {index + 1} failed:\n{proc.stdout}\n{proc.stderr}"
    for pattern in EXPECTED[index]:
        assert re.search(pattern, proc.stdout), (
            f"block {index + 1} did not print {pattern!r}; it printed:\n{proc.stdout}"
        )
    assert not list(tmp_path.iterdir()), "a README block left files behind"


@pytest.mark.parametrize("guide", GUIDES, ids=lambda path: path.stem)
def test_guide_runs_as_written(guide, tmp_path):
    blocks = python_blocks(guide.read_text(encoding="utf-8"))
    assert blocks, f"{guide.name} has no python block"
    # the guides' models are tiny: one torch thread is faster than two on a busy machine
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-c", "\n".join(blocks)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"{guide.name} failed:\n{proc.stdout}\n{proc.stderr}"
    assert not list(tmp_path.iterdir()), f"{guide.name} left files behind"

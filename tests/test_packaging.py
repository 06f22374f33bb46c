"""The package as users get it: one version, and a wheel and sdist that hold every module.

The build runs without isolation (with the setuptools of the dev extra) so that it needs no
network and takes seconds; `make dist` builds in an isolated env and runs `twine check`.
"""

import importlib.metadata
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

import thermoep
from thermoep._version import __version__
from thermoep.cli import app

ROOT = Path(__file__).parents[1]
MODULES = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "thermoep").rglob("*.py"))


def test_one_version_everywhere():
    assert thermoep.__version__ == __version__
    # the installed metadata comes from pyproject, which reads thermoep/_version.py
    assert importlib.metadata.version("thermoep") == __version__
    r = CliRunner().invoke(app, ["--version"])
    assert r.exit_code == 0 and r.output.strip() == f"thermoep {__version__}", r.output


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    pytest.importorskip("build")
    out = tmp_path_factory.mktemp("dist")
    # the sdist first, then the wheel built from it: a file the build needs and the sdist lacks
    # fails here
    r = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out),
                        str(ROOT)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    (wheel,) = out.glob("*.whl")
    (sdist,) = out.glob("*.tar.gz")
    return wheel, sdist


def test_wheel_holds_every_module_and_the_entry_point(dist):
    wheel, _ = dist
    assert wheel.name == f"thermoep-{__version__}-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        info = f"thermoep-{__version__}.dist-info"
        entry_points = z.read(f"{info}/entry_points.txt").decode()
        metadata = z.read(f"{info}/METADATA").decode()
    assert [m for m in MODULES if m not in names] == []  # thermoep.cli, thermoep.data, ...
    assert not [n for n in names if n.startswith("tests/")]
    assert "thermoep = thermoep.cli:main" in entry_points
    assert f"Version: {__version__}" in metadata and "License-Expression: MIT" in metadata
    assert "Provides-Extra: ray" in metadata
    assert f"{info}/licenses/LICENSE" in names


def test_sdist_holds_what_a_build_needs(dist):
    _, sdist = dist
    top = f"thermoep-{__version__}"
    with tarfile.open(sdist) as t:
        names = {n.removeprefix(f"{top}/") for n in t.getnames()}
    needed = {"pyproject.toml", "README.md", "LICENSE", "tests/conftest.py", *MODULES}
    assert sorted(needed - names) == []


def test_wheel_and_sdist_pass_twine_check(dist):
    pytest.importorskip("twine")
    r = subprocess.run([sys.executable, "-m", "twine", "check", "--strict", *map(str, dist)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr

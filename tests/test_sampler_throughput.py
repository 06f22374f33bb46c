"""benchmarks/sampler_throughput.py: the change of variables between thermoep's binary units and
thrml's spins, s = (σ + 1)/2, is exact on every configuration, and block-Gibbs marginals agree
with enumeration within 5 standard errors (thermoep always; thrml where it is installed, which CI
does not do). The script runs at a tiny size and skips thrml with a message when it is missing.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest
import torch

import thermoep as te

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "sampler_throughput.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("sampler_throughput", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop(spec.name, None)


def test_spin_form_of_a_boltzmann_machine_is_exact(bench, float64):
    bm, x = bench.boltzmann([3, 4, 2], seed=3, init_scale=1.0)
    form = bench.spin_form(bm, x)
    assert form.binary and form.n == 6 and len(form.w) == 4 * 2
    assert [sorted(b.tolist()) for b in form.blocks] == [[0, 1, 2, 3], [4, 5]]
    assert bench.mapping_error(bm, x, form) < 1e-12
    # a deeper chain: edges between free layers only, the input folded into the first biases
    bm, x = bench.boltzmann([4, 3, 3, 2], seed=4, init_scale=1.0)
    assert bench.mapping_error(bm, x) < 1e-12


def test_spin_form_of_a_lattice_is_its_couplings(bench, float64):
    energy = bench.ising(4, coupling=0.7)
    form = bench.spin_form(energy, torch.zeros(1, 0))
    assert not form.binary and len(form.w) == 32 and form.c == 0.0  # 2 edges per site (torus)
    assert torch.allclose(torch.as_tensor(form.w), torch.full((32,), 0.7, dtype=torch.float64))
    assert sorted(len(b) for b in form.blocks) == [8, 8]
    assert bench.mapping_error(energy, torch.zeros(1, 0), form) < 1e-12
    # the stencil's trace contracts the torus by shifts, no gathered edge; the dense Lateral of
    # the same lattice gathers its 32 edges, and both give the same energies
    assert form.stencil == [(0, 4, 4, pytest.approx(0.7))] and len(form.sparse) == 0
    dense = bench.ising(4, coupling=0.7, dense=True)
    assert isinstance(dense.lateral_s, te.Lateral)
    form_dense = bench.spin_form(dense, torch.zeros(1, 0))
    assert len(form_dense.sparse) == 32 and not form_dense.stencil
    assert bench.mapping_error(dense, torch.zeros(1, 0), form_dense) < 1e-12
    sigma = torch.where(torch.rand(5, 16, generator=torch.Generator().manual_seed(0)) < 0.5,
                        -1.0, 1.0)
    torch.testing.assert_close(form.energy_torch(sigma), form_dense.energy_torch(sigma))


def test_thermoep_marginals_agree_with_enumeration(bench):
    check = bench.enumeration_check(False, chains=32, sweeps=300, burn_in=50, seed=1)
    assert check["mapping_max_abs_error"] < 1e-5
    assert check["thermoep"]["max_z"] < bench.Z_LIMIT, check["thermoep"]
    assert "thrml" not in check
    # not vacuous: the SE is small against the marginals' spread
    assert max(check["thermoep"]["se"]) < 0.05


def test_thrml_marginals_agree_with_enumeration(bench):
    pytest.importorskip("thrml")
    check = bench.enumeration_check(True, chains=32, sweeps=300, burn_in=50, seed=2)
    assert check["thrml"]["max_z"] < bench.Z_LIMIT, check["thrml"]
    assert max(check["thrml"]["se"]) < 0.05


def test_script_skips_thrml_when_missing(bench, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(bench, "thrml_available", lambda: "ModuleNotFoundError: thrml")
    out = tmp_path / "tp"
    bench.main(["--models", "boltzmann", "--sizes", "8", "4", "2", "--chains", "2",
                "--burn-in", "3", "--min-sweeps", "5", "--target-seconds", "0.01",
                "--out", str(out)])
    printed = capsys.readouterr().out
    assert "thrml is not installed" in printed
    result = json.loads(out.with_suffix(".json").read_text())
    assert result["thrml_skipped"] and [r["library"] for r in result["rows"]] == ["thermoep"]
    row = result["rows"][0]
    assert row["free_units"] == 6 and row["sweeps"] >= 5 and row["ess"] > 0
    assert "| thermoep | binary 8-4-2 | 2 |" in out.with_suffix(".md").read_text()
    assert te.__version__ == result["versions"]["thermoep"]

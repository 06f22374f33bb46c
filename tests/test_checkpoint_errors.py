"""Corrupt or foreign checkpoints: one ValueError naming the file, through the library and
``thermoep train --resume``; nothing is overwritten. Checkpoints record the thermoep version."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

import thermoep
from thermoep import checkpoints
from thermoep.cli import app

runner = CliRunner()
CANNOT = "cannot be read as a thermoep checkpoint"
QUICK = ["--epochs", "2", "--limit-train", "64", "--limit-test", "32", "--hidden", "8",
         "--quiet", "--checkpoint-every", "1"]


def _saved(path: Path) -> Path:
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    return checkpoints.save(path, epoch=1, model=model, optimizer=opt, scheduler=None,
                            generator=torch.Generator().manual_seed(0),
                            history=[{"test_accuracy": 0.5}], config={"seed": 0})


def _corrupt(kind: str, path: Path, good: bytes) -> bytes:
    data = {"empty": b"", "truncated": good[: len(good) // 2],
            "garbage": bytes(range(256)) * 4, "text": b"epoch: 3\nmodel: ok\n"}[kind]
    path.write_bytes(data)
    return data


WHAT = {"empty": "empty", "truncated": "truncated or corrupt", "garbage": "not a torch file",
        "text": "not a torch file"}


@pytest.mark.parametrize("kind", ["empty", "truncated", "garbage", "text"])
def test_corrupt_checkpoint_is_one_value_error(tmp_path, kind):
    good = _saved(tmp_path / "good.ckpt").read_bytes()
    path = tmp_path / "r.ckpt"
    _corrupt(kind, path, good)
    with pytest.raises(ValueError) as info:
        checkpoints.load(path)
    message = str(info.value)
    assert message.startswith(f"{path}: {CANNOT}") and WHAT[kind] in message
    assert "\n" not in message and "weights_only=False" not in message


def test_torch_file_with_objects_is_refused_without_running_them(tmp_path):
    path = tmp_path / "obj.ckpt"
    torch.save({"epoch": 1, "model": {}, "optimizer": torch.optim.SGD}, path)
    with pytest.raises(ValueError, match="objects other than tensors") as info:
        checkpoints.load(path)
    message = str(info.value)
    assert message.startswith(f"{path}: {CANNOT}") and "torch.optim" in message
    assert "\n" not in message and "weights_only=False" not in message


@pytest.mark.parametrize("content", [torch.zeros(3), {"state_dict": {"w": torch.zeros(2)}},
                                     [1, 2, 3]])
def test_readable_torch_file_that_is_not_a_checkpoint(tmp_path, content):
    path = tmp_path / "model.pt"
    torch.save(content, path)
    with pytest.raises(ValueError, match="a readable torch file, but not a thermoep checkpoint") \
            as info:
        checkpoints.load(path)
    assert str(path) in str(info.value) and "missing" in str(info.value)


def test_legacy_torch_format_is_read(tmp_path):
    _saved(tmp_path / "zip.ckpt")
    state = torch.load(tmp_path / "zip.ckpt", weights_only=True)
    torch.save(state, tmp_path / "legacy.ckpt", _use_new_zipfile_serialization=False)
    assert checkpoints.load(tmp_path / "legacy.ckpt")["epoch"] == 1


def test_checkpoint_records_the_version(tmp_path):
    state = checkpoints.load(_saved(tmp_path / "r.ckpt"))
    assert state["thermoep_version"] == thermoep.__version__
    assert checkpoints.written_by(state) == f"thermoep {thermoep.__version__}"
    del state["thermoep_version"]
    assert checkpoints.written_by(state) == "a thermoep version before 0.2 (no version recorded)"


def test_missing_checkpoint_names_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.ckpt"):
        checkpoints.load(tmp_path / "nope.ckpt")


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """r.nc and r.ckpt of a two-epoch run, trained once for the CLI tests."""
    root = tmp_path_factory.mktemp("trained")
    r = runner.invoke(app, ["train", *QUICK, "--out", str(root / "r.nc")])
    assert r.exit_code == 0, r.output
    assert (root / "r.ckpt").is_file()
    return root


@pytest.mark.parametrize("kind", ["empty", "truncated", "garbage"])
def test_resume_from_a_corrupt_checkpoint_is_one_line_and_overwrites_nothing(
        tmp_path, trained, kind):
    for name in ("r.nc", "r.ckpt"):
        shutil.copy(trained / name, tmp_path / name)
    results_before = (tmp_path / "r.nc").read_bytes()
    ckpt = tmp_path / "r.ckpt"
    corrupt = _corrupt(kind, ckpt, ckpt.read_bytes())
    r = runner.invoke(app, ["train", *QUICK, "--out", str(tmp_path / "r.nc"), "--resume"])
    assert r.exit_code != 0
    lines = r.output.strip().splitlines()
    assert len(lines) == 1, r.output
    assert str(ckpt) in lines[0] and CANNOT in lines[0] and WHAT[kind] in lines[0]
    assert "Traceback" not in r.output and "Aborted" not in r.output
    assert ckpt.read_bytes() == corrupt
    assert (tmp_path / "r.nc").read_bytes() == results_before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.ckpt", "r.nc"]

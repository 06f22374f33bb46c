"""Atomic training checkpoints: model (and a cost's own parameters), optimizer, scheduler,
estimator and RNG states, metrics so far, and the thermoep version that wrote them.

Saved as plain tensors and containers (no pickled modules), so ``torch.load(weights_only=True)``
reads them safely. `load` turns a file that is empty, not a torch file, truncated, holds other
objects, or is a torch file but not a checkpoint into one ValueError naming the file.
"""

from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path

import torch

#: keys every checkpoint `save` has written (``thermoep_version`` only since it was added)
REQUIRED_KEYS = ("epoch", "model", "optimizer", "scheduler", "generator", "torch_rng",
                 "history", "config")
_ZIP_MAGIC = b"PK\x03\x04"  # torch.save's default format is a zip archive
_PICKLE_PROTOCOLS = range(2, 6)  # torch's legacy format starts with a pickle PROTO opcode


def save(path: str | os.PathLike, *, epoch: int, model, optimizer, scheduler, generator,
         history: list[dict], config: dict, estimator=None, cost=None, average=None) -> Path:
    """Write ``path`` atomically (``.tmp`` then rename)."""
    path = Path(path)
    state = {
        "epoch": epoch,
        "model": model.state_dict(),
        "cost": cost.state_dict() if isinstance(cost, torch.nn.Module) else None,
        "optimizer": optimizer.state_dict(),
        "scheduler": None if scheduler is None else scheduler.state_dict(),
        "generator": generator.get_state(),
        "estimator": None if estimator is None else estimator.state_dict(),
        "torch_rng": torch.get_rng_state(),
        "average": None if average is None else average.state_dict(),
        "history": history,
        "config": config,
        "thermoep_version": _version(),
    }
    tmp = path.with_name(path.name + ".tmp")
    try:
        torch.save(state, tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def _version() -> str:
    from . import __version__  # at call time: the package imports this module first

    return str(__version__)


def written_by(state: dict) -> str:
    """Who wrote a loaded checkpoint, for messages: "thermoep X.Y.Z" or, for files from before
    the version was recorded, "a thermoep version before 0.2 (no version recorded)"."""
    version = state.get("thermoep_version") if isinstance(state, dict) else None
    if not version:
        return "a thermoep version before 0.2 (no version recorded)"
    return f"thermoep {version}"


def _not_torch(path: Path) -> str | None:
    """Why ``path`` is certainly not a torch file (empty, other signature), or None if it may be.

    Checked before torch.load, which raises a bare EOFError on an empty file (the CLI framework
    reports that as "Aborted.") and pickle errors on other bytes.
    """
    with path.open("rb") as f:
        head = f.read(4)
    if not head:
        return "the file is empty (0 bytes)"
    if head == _ZIP_MAGIC or (head[0] == 0x80 and head[1] in _PICKLE_PROTOCOLS):
        return None
    return (f"not a torch file (it begins with {head!r}; torch.save writes a zip archive "
            f"beginning with {_ZIP_MAGIC!r})")


def _refused_global(exc: pickle.UnpicklingError) -> str:
    """The line of torch's weights_only refusal that names the global, without its advice."""
    for line in str(exc).splitlines():
        if "Unsupported global" in line or "Unsupported operand" in line:
            return line.strip().removeprefix("WeightsUnpickler error: ").split(". ")[0]
    return next(iter(str(exc).splitlines()), "")


def load(path: str | os.PathLike) -> dict:
    """Read a checkpoint with ``torch.load(weights_only=True)`` onto the CPU.

    Raises FileNotFoundError if ``path`` is absent, and ValueError "<path>: cannot be read as a
    thermoep checkpoint: <why>" if it is empty, not a torch file, truncated or corrupt, holds
    objects other than tensors and plain containers, or is a torch file without a checkpoint's
    keys.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    refused = f"{path}: cannot be read as a thermoep checkpoint"
    why = _not_torch(path)
    if why is not None:
        raise ValueError(f"{refused}: {why}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise ValueError(f"{refused}: it holds objects other than tensors and plain containers, "
                         f"which are not loaded ({_refused_global(exc)})") from None
    except (RuntimeError, EOFError, OSError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        detail = next(iter(str(exc).splitlines()), "").split(". ")[0]  # not torch's advice
        raise ValueError(f"{refused}: truncated or corrupt ({type(exc).__name__}: "
                         f"{detail})") from exc
    missing = [k for k in REQUIRED_KEYS if not isinstance(state, dict) or k not in state]
    if missing:
        found = (f"keys {sorted(map(str, state))}" if isinstance(state, dict)
                 else f"a {type(state).__name__}")
        raise ValueError(f"{refused}: it is a readable torch file, but not a thermoep "
                         f"checkpoint (missing {', '.join(missing)}; found {found})")
    return state


def load_cost(state: dict, cost) -> None:
    """Load a cost's own parameters (a read-out) saved with the checkpoint, if it has any."""
    if isinstance(cost, torch.nn.Module):
        if state.get("cost") is None:
            raise ValueError(f"the checkpoint holds no parameters for {cost!r}")
        cost.load_state_dict(state["cost"])


def restore(state: dict, *, model, optimizer, scheduler, generator,
            estimator=None, cost=None, average=None) -> tuple[int, list[dict]]:
    """Load a checkpoint into live objects; returns (last finished epoch, history)."""
    model.load_state_dict(state["model"])
    load_cost(state, cost)
    optimizer.load_state_dict(state["optimizer"])
    if scheduler is not None and state["scheduler"] is not None:
        scheduler.load_state_dict(state["scheduler"])
    generator.set_state(state["generator"])
    if estimator is not None and state.get("estimator") is not None:
        estimator.load_state_dict(state["estimator"])
    if average is not None:
        if state.get("average") is None:
            raise ValueError("the checkpoint holds no weight average, but the run keeps one")
        average.load_state_dict(state["average"])
    torch.set_rng_state(state["torch_rng"])
    return int(state["epoch"]), list(state["history"])

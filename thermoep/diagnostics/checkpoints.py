"""Rebuild a trained model from a per-epoch checkpoint (for diagnostics over training).

``thermoep train --checkpoint-every 1 --keep-checkpoints`` keeps ``<stem>.epochNNNN.ckpt`` next to
the run's checkpoint (``experiment.epoch_checkpoint``); each holds the model weights and the run's
full config, from which :func:`load_model` rebuilds the model, the cost, the (seeded) data split
and a T = 0 relaxation through ``RunConfig.from_dict(...).resolved()`` and ``build``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import checkpoints
from ..config import RunConfig
from ..experiment import build
from ..samplers.relax import Relaxation

__all__ = ["LoadedModel", "find_epoch_checkpoints", "load_model"]

_EPOCH = re.compile(r"\.epoch(\d+)$")


@dataclass
class LoadedModel:
    """A model restored at the end of ``epoch``, with what its run was built from."""

    model: Any
    cost: Any
    data: Any
    config: Any  # resolved RunConfig
    epoch: int
    relaxation: Relaxation
    path: Path


def find_epoch_checkpoints(path: str | Path) -> list[Path]:
    """Per-epoch checkpoints, sorted by epoch.

    ``path`` is a per-epoch file (returned as is), a run checkpoint ``<stem>.ckpt`` (its
    ``<stem>.epochNNNN.ckpt`` copies), or a directory (every ``*.epochNNNN.ckpt`` in it).
    """
    p = Path(path)
    if p.is_dir():
        found = [f for f in p.glob("*.ckpt") if _EPOCH.search(f.stem)]
    elif _EPOCH.search(p.stem):
        if not p.is_file():
            raise FileNotFoundError(f"checkpoint {p} does not exist")
        return [p]
    else:
        found = list(p.parent.glob(f"{p.stem}.epoch*{p.suffix or '.ckpt'}"))
        found = [f for f in found if _EPOCH.search(f.stem)]
    if not found:
        raise FileNotFoundError(
            f"no per-epoch checkpoints found for {p} (expected files like "
            f"{p.stem if not p.is_dir() else '<run>'}.epoch0001.ckpt, written by "
            "a run with checkpoint_every=1 and keep_checkpoints=True)"
        )
    return sorted(found, key=lambda f: (str(f.parent), f.name))


def load_model(path: str | Path) -> LoadedModel:
    """Rebuild the model saved in checkpoint ``path`` (weights loaded, eval data split)."""
    path = Path(path)
    state = checkpoints.load(path)
    if "config" not in state or "model" not in state:
        raise ValueError(f"{path} is not a thermoep training checkpoint (keys: {sorted(state)})")
    cfg = RunConfig.from_dict(state["config"]).resolved()
    data, model, cost, _est, _opt, _sched, sampler, _gen = build(cfg)
    model.load_state_dict(state["model"])
    checkpoints.load_cost(state, cost)
    relax = sampler if getattr(sampler, "deterministic", False) else Relaxation()
    return LoadedModel(model=model, cost=cost, data=data, config=cfg, epoch=int(state["epoch"]),
                       relaxation=relax, path=path)

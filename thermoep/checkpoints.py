"""Atomic training checkpoints: model (and a cost's own parameters), optimizer, scheduler,
estimator and RNG states, metrics so far.

Saved as plain tensors and containers (no pickled modules), so ``torch.load(weights_only=True)``
reads them safely.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch


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
    }
    tmp = path.with_name(path.name + ".tmp")
    try:
        torch.save(state, tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def load(path: str | os.PathLike) -> dict:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    return torch.load(path, map_location="cpu", weights_only=True)


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

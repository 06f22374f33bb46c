"""Exponential moving average of the trained parameters, for evaluation (Polyak averaging).

After every optimizer step t = 1, 2, … each trained parameter θ (the energy's and a cost's own,
as :func:`thermoep.costs.trainables` lists them) updates its average

    θ̄_t = d_t θ̄_{t−1} + (1 − d_t) θ_t,   d_t = min(decay, (1 + t) / (10 + t)),   θ̄_0 = θ_0,

the second term of the min letting the average forget the initial weights during the first few
hundred steps (the warm-up of TensorFlow's ExponentialMovingAverage). Training never reads θ̄:
the estimators and the optimizer see the online weights only, so every EP gradient identity is
untouched. Evaluation may swap θ̄ in (:meth:`WeightAverage.swapped`) — the network evaluated is
then an ordinary network of the same family with averaged weights, relaxed or sampled as usual.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

from . import _checks
from .costs import trainables


class WeightAverage:
    """EMA θ̄ of ``trainables(model, cost)`` with decay ``decay`` ∈ (0, 1)."""

    def __init__(self, model, cost=None, *, decay: float) -> None:
        decay = _checks.positive_float("decay", decay)
        if not decay < 1.0:
            raise ValueError(f"the weight-average decay must lie in (0, 1), got {decay}")
        self.decay = decay
        self._params = trainables(model, cost)
        self.average = {k: p.detach().clone() for k, p in self._params.items()}
        self.steps = 0

    def rate(self) -> float:
        """d_t of the next update."""
        t = self.steps + 1
        return min(self.decay, (1 + t) / (10 + t))

    @torch.no_grad()
    def update(self) -> None:
        """Fold the current weights into the average (call after each optimizer step)."""
        d = self.rate()
        for k, p in self._params.items():
            self.average[k].lerp_(p, 1.0 - d)
        self.steps += 1

    @contextmanager
    def swapped(self) -> Iterator[None]:
        """Within the block the live parameters hold θ̄; the online weights come back after."""
        saved = {k: p.detach().clone() for k, p in self._params.items()}
        try:
            with torch.no_grad():
                for k, p in self._params.items():
                    p.copy_(self.average[k])
            yield
        finally:
            with torch.no_grad():
                for k, p in self._params.items():
                    p.copy_(saved[k])

    def state_dict(self) -> dict:
        return {"decay": self.decay, "steps": self.steps,
                "average": {k: v.clone() for k, v in self.average.items()}}

    def load_state_dict(self, state: dict) -> None:
        if set(state["average"]) != set(self.average):
            raise ValueError(f"weight-average state holds {sorted(state['average'])}, the model "
                             f"has {sorted(self.average)}")
        self.decay, self.steps = float(state["decay"]), int(state["steps"])
        for k, v in state["average"].items():
            self.average[k].copy_(v)

    def __repr__(self) -> str:
        return f"WeightAverage(decay={self.decay}, steps={self.steps})"

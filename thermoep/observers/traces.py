"""Scalar traces per chain, ``[C, S]`` (batch-averaged), for ESS, split R-hat and
autocorrelation (``pyro.ops.stats``, chain_dim=0, sample_dim=1)."""

from __future__ import annotations

import torch

from .base import Observer
from .smoothing import plain


class Trace(Observer):
    """The batch mean of ``fn(target, state)`` (``[C, B]`` per kept state) per chain and kept
    state. Subclass it or pass ``fn`` for a trace of one's own."""

    def __init__(self, fn=None, *, name: str = "trace") -> None:
        self.fn, self.name = fn, name

    def value(self, target, state):
        return self.fn(target, state)

    def start(self, target, state, chains):
        super().start(target, state, chains)
        self.rows = []

    def update(self, target, state):
        v = self.value(target, state)
        self.rows.append(v.mean().reshape(1) if self.chains is None else v.mean(-1))

    def finish(self, target):
        return torch.stack(self.rows, -1) if self.rows else None


class CostTrace(Trace):
    """ℓ(s_L, y) per chain and kept state."""

    def __init__(self, smoother=None, *, name: str = "cost_trace") -> None:
        super().__init__(name=name)
        self.smoother = smoother

    def value(self, target, state):
        return (self.smoother or plain)(target, state).cost


class EnergyTrace(Trace):
    """E(s; x) per chain and kept state."""

    def __init__(self, *, name: str = "energy_trace") -> None:
        super().__init__(name=name)

    def value(self, target, state):
        return target.energy.energy(target.x, state.position)


__all__ = ["CostTrace", "EnergyTrace", "Trace"]

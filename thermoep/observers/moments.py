"""Means over the kept states: the prediction read-out E_b[s_L] and the expected cost E_b[ℓ]."""

from __future__ import annotations

from .base import Observer
from .smoothing import plain


class OutputMean(Observer):
    """E_b[s_L] per input: ``[B, n_L]``, or ``[C, B, n_L]`` per chain with ``per_chain``."""

    def __init__(self, *, per_chain: bool = False, name: str = "output") -> None:
        self.per_chain, self.name = bool(per_chain), name

    def start(self, target, state, chains):
        super().start(target, state, chains)
        self.total, self.n = None, 0

    def update(self, target, state):
        out = state.position[target.energy.output]
        self.total = out.clone() if self.total is None else self.total + out
        self.n += 1

    def finish(self, target):
        mean = self.total / self.n
        if self.chains is None:
            return mean.unsqueeze(0) if self.per_chain else mean
        return mean if self.per_chain else mean.mean(0)


class CostMean(Observer):
    """E_b[ℓ] per input, ``[B]`` (``smoother``: see :mod:`thermoep.observers.smoothing`)."""

    def __init__(self, smoother=None, *, name: str = "cost") -> None:
        self.smoother, self.name = smoother, name

    def start(self, target, state, chains):
        super().start(target, state, chains)
        self.total, self.n = 0.0, 0

    def update(self, target, state):
        ell = (self.smoother or plain)(target, state).cost
        self.total = self.total + ell
        self.n += 1

    def finish(self, target):
        mean = self.total / self.n
        return mean if self.chains is None else mean.mean(0)


__all__ = ["CostMean", "OutputMean"]

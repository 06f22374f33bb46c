"""Record the phases an estimator runs, with per-chain time averages of the output layer.

An estimator's free phase keeps the chain-averaged prediction E_b[s_L] (``[B, n]``), but the SNR
of seed ep-without-limits Fig. 1B needs the spread of Δs *between chains*, i.e. the per-chain
time average

    s̄_{L,c} = (1/S) Σ_{t kept} s_{L,c}(t),   shape [C, B, n],

over exactly the states the sampler keeps. :class:`PhaseRecorder` runs an estimator with two
extra observers in every phase (``OutputMean(per_chain=True)`` and ``EnergyTrace``), so warm
starts and common random numbers follow the same path as in training, and keeps every phase with
these averages (and any ``observers=`` of one's own beside them). For the deterministic
relaxation the single "chain" is the fixed point itself: ``[1, B, n]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ..observers import EnergyTrace, OutputMean
from ..samplers.base import Phase

__all__ = ["PhaseRecorder", "RecordedPhase"]

_CHAINS = "output_chains"


@dataclass
class RecordedPhase:
    """One phase as run by an estimator, with the per-chain mean output ``[C, B, n_L]``."""

    nudge: float
    phase: Phase
    output_chains: Tensor


class PhaseRecorder:
    """``rec = PhaseRecorder(estimator)``; ``g = rec(energy, cost, x, y, generator=g)``; read
    ``rec.phases`` (in run order, free phase first) and ``rec.delta(beta)``. ``observers``:
    more observers for every phase (instances, reused: ``start`` resets them)."""

    def __init__(self, estimator, *, observers=()) -> None:
        if not callable(estimator) or not hasattr(estimator, "sampler"):
            raise TypeError(f"PhaseRecorder records a thermoep estimator, got "
                            f"{type(estimator).__name__}")
        self.estimator = estimator
        self.deterministic = bool(getattr(estimator.sampler, "deterministic", False))
        self.phases: list[RecordedPhase] = []
        self.observers = list(observers)

    def _observers(self):
        return [OutputMean(per_chain=True, name=_CHAINS), EnergyTrace(), *self.observers]

    def __call__(self, energy, cost, x, y, *, generator=None):
        previous = self.estimator.extra_observers
        self.estimator.extra_observers = self._observers
        try:
            g = self.estimator(energy, cost, x, y, generator=generator)
        finally:
            self.estimator.extra_observers = previous
        for b, phase in (g.phases or {}).items():
            self.phases.append(RecordedPhase(float(b), phase, phase[_CHAINS]))
        return g

    @property
    def sampler(self):
        return self.estimator.sampler

    def clear(self) -> None:
        self.phases = []

    def by_nudge(self) -> dict[float, RecordedPhase]:
        """The last recorded phase for each nudge b."""
        return {r.nudge: r for r in self.phases}

    def delta(self, beta: float) -> Tensor:
        """Per-chain Δs = s̄_{L,c}(β) − s̄_{L,c}(0), ``[C, B, n_L]``."""
        phases = self.by_nudge()
        if 0.0 not in phases or float(beta) not in phases:
            raise ValueError(f"no recorded phases for nudges 0 and {beta}; recorded "
                             f"{sorted(phases)}")
        with torch.no_grad():
            return phases[float(beta)].output_chains - phases[0.0].output_chains

"""Record the phases an estimator runs, with per-chain time averages of the output layer.

An estimator's ``Phase`` keeps the chain-averaged prediction E_b[s_L] (``[B, n]``), but the SNR of
seed ep-without-limits Fig. 1B needs the spread of Δs *between chains*, i.e. the per-chain time
average

    s̄_{L,c} = (1/S) Σ_{t kept} s_{L,c}(t),   shape [C, B, n],

over exactly the samples the sampler keeps (t ≥ burn_in, every ``thin``-th). :class:`PhaseRecorder`
wraps a *copy* of a sampler so that every ``run`` it serves — called by the estimator itself, so
warm starts and common random numbers (``coupled=True``, objectives/base.py ``_phases``) follow the
same path as in training — is recorded together with these per-chain averages. It hooks the
sampler's Markov-chain loop (``MonteCarloSampler._run``: one call of ``step`` per step, in order)
and leaves the original sampler untouched. For the deterministic relaxation the single "chain" is
the fixed point itself: ``[1, B, n]``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import Tensor

from ..samplers.base import Phase

__all__ = ["PhaseRecorder", "RecordedPhase"]


@dataclass
class RecordedPhase:
    """One phase as run by an estimator, with the per-chain mean output ``[C, B, n_L]``."""

    nudge: float
    phase: Phase
    output_chains: Tensor


class PhaseRecorder:
    """``rec = PhaseRecorder(sampler)``; build the estimator on ``rec.sampler``; call it; read
    ``rec.phases`` (in run order, free phase first) and ``rec.by_nudge()``."""

    def __init__(self, sampler) -> None:
        if not hasattr(sampler, "run"):
            raise TypeError(f"sampler must be a thermoep sampler, got {type(sampler).__name__}")
        self.sampler = copy.copy(sampler)
        self.deterministic = bool(getattr(sampler, "deterministic", False))
        self.phases: list[RecordedPhase] = []
        self._sum: Tensor | None = None
        self._count = 0
        run = self.sampler.run  # bound to the copy

        def recording_run(energy, cost, x, y, nudge, **kwargs) -> Phase:
            self._sum, self._count = None, 0
            phase = run(energy, cost, x, y, nudge, **kwargs)
            if self.deterministic or self._count == 0:
                out = phase.output.detach().unsqueeze(0)
            else:
                out = self._sum / self._count
            self.phases.append(RecordedPhase(float(nudge), phase, out))
            return phase

        self.sampler.run = recording_run
        if not self.deterministic:
            inner = self.sampler._run
            burn_in, thin = int(self.sampler.burn_in), int(self.sampler.thin)

            def recording_loop(energy, cost, x, y, nudge, state, step, **kwargs) -> Phase:
                t = 0

                def recording_step(s):
                    nonlocal t
                    new = step(s)
                    if t >= burn_in and (t - burn_in) % thin == 0:
                        last = new[-1].detach()
                        self._sum = last.clone() if self._sum is None else self._sum + last
                        self._count += 1
                    t += 1
                    return new

                return inner(energy, cost, x, y, nudge, state, recording_step, **kwargs)

            self.sampler._run = recording_loop

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

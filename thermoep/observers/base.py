"""The observer protocol: a statistic computed from the states a sampler keeps.

The shared loop (:func:`thermoep.samplers.loop.sample`) calls, for each phase,

    observer.start(target, state, chains)    before the first kept state (``chains``: the
                                             leading chain dimension, None at T = 0)
    observer.update(target, state)           for every kept state (``state.position`` is the
                                             network state, one tensor per free layer)
    observer.finish(target) -> value         stored as ``phase.observed[observer.name]``

so a statistic of one's own (an energy trace, a magnetisation) is one small class and no sampler
is edited for it. ``start`` resets, so an observer can be reused for several phases.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torch import Tensor


class Observer:
    """Base class (module docstring)."""

    name = "observer"

    def start(self, target, state, chains: int | None) -> None:
        self.chains = chains

    def update(self, target, state) -> None:
        raise NotImplementedError

    def finish(self, target) -> Any:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


@dataclass
class PerChain:
    """A statistic keyed like ``named_parameters()``: its value ``mean`` (averaged over chains)
    and, for Monte-Carlo phases, one independent estimate per chain ``chains`` (``[C, ...]``),
    whose spread is the standard error."""

    mean: dict[str, Tensor]
    chains: dict[str, Tensor] | None = None


__all__ = ["Observer", "PerChain"]

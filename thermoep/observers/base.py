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

from collections.abc import Callable, Iterable, Iterator, Mapping
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
    chains: Mapping[str, Tensor] | None = None


class Lazy(Mapping):
    """A read-only mapping over ``keys`` whose values ``compute(key)`` are computed on first
    access and kept: per-chain replicates that only a standard error reads (training steps
    never do, and for a 784 × 256 weight they cost one product per chain)."""

    def __init__(self, keys: Iterable[str], compute: Callable[[str], Tensor]) -> None:
        self._keys, self._compute = list(keys), compute
        self._cache: dict[str, Tensor] = {}

    def __getitem__(self, key: str) -> Tensor:
        if key not in self._cache:
            if key not in self._keys:
                raise KeyError(key)
            self._cache[key] = self._compute(key)
        return self._cache[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)


__all__ = ["Lazy", "Observer", "PerChain"]

"""The result type of every estimator."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping

import torch
from torch import Tensor, nn

from .costs import trainables


class Stats(dict):
    """:attr:`Gradient.stats`: a dict whose costlier entries are computed when first read.

    ``defer(fn, keys)`` registers a function returning some of ``keys`` (the chain diagnostics:
    ESS and split R-hat of a phase's cost trace, a few hundred µs a phase that training steps
    never read). Reading one of those keys, iterating, copying, comparing or printing computes
    what is pending first; other keys are read as in any dict. An entry written before it is
    computed keeps the written value.
    """

    __slots__ = ("_pending",)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._pending: list[tuple[Callable[[], dict], frozenset]] = []

    def defer(self, fn: Callable[[], dict], keys: Iterable[str]) -> None:
        self._pending.append((fn, frozenset(keys)))

    def _resolve(self, key=None) -> None:
        """Compute what is pending for ``key`` (None: everything)."""
        keep = []
        for fn, keys in self._pending:
            if key is None or key in keys:
                for k, v in fn().items():
                    super().setdefault(k, v)
            else:
                keep.append((fn, keys))
        self._pending = keep

    def _resolve_key(self, key) -> None:
        if self._pending and not super().__contains__(key):
            self._resolve(key)

    def _all(self) -> None:
        if self._pending:
            self._resolve()

    def __getitem__(self, key):
        self._resolve_key(key)
        return super().__getitem__(key)

    def __contains__(self, key) -> bool:
        self._resolve_key(key)
        return super().__contains__(key)

    def get(self, key, default=None):
        self._resolve_key(key)
        return super().get(key, default)

    def setdefault(self, key, default=None):
        self._resolve_key(key)
        return super().setdefault(key, default)

    # removing a key computes what is pending for it first, so it cannot come back later
    def pop(self, key, *default):
        if self._pending:
            self._resolve(key)
        return super().pop(key, *default)

    def __delitem__(self, key) -> None:
        if self._pending:
            self._resolve(key)
        super().__delitem__(key)

    def clear(self) -> None:
        self._pending = []
        super().clear()

    def popitem(self):
        self._all()
        return super().popitem()

    def __iter__(self):
        self._all()
        return super().__iter__()

    def __reversed__(self):
        self._all()
        return super().__reversed__()

    def __len__(self) -> int:
        self._all()
        return super().__len__()

    def keys(self):
        self._all()
        return super().keys()

    def values(self):
        self._all()
        return super().values()

    def items(self):
        self._all()
        return super().items()

    def __eq__(self, other) -> bool:
        self._all()
        if isinstance(other, Stats):
            other._all()
        return super().__eq__(other)

    def __ne__(self, other) -> bool:
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    def __or__(self, other):
        self._all()
        return super().__or__(other)

    def __repr__(self) -> str:
        self._all()
        return super().__repr__()

    def copy(self) -> Stats:
        """A shallow copy that shares what is still pending (computed again if both read it)."""
        out = Stats(super().items())
        out._pending = list(self._pending)
        return out

    __copy__ = copy

    def __reduce__(self):
        return Stats, (dict(self.items()),)


class Gradient(Mapping):
    """An estimate of ∇θ L_β, keyed like ``named_parameters()``.

    Attributes:
        grads: ``{name: Tensor}``.
        nudged_phases: nudged phases spent (the compute count of seed hybrid-ep §3.2).
        stats: standard errors (``stats["se"]``), residuals, acceptance, ESS, R-hat, ... (a
            :class:`Stats`: a dict whose chain diagnostics are computed when read)
        loss: batch mean of E_0[ℓ] at the free phase (None for references).
        output: free-phase prediction read-out E_0[s_L], ``[B, n_L]`` (None for references).
        phases: the phases the estimator ran, by nudge b (:class:`~thermoep.samplers.Phase`:
            final states, observed statistics, sampler info); None for references.
    """

    def __init__(self, grads: Mapping[str, Tensor], nudged_phases: int = 0,
                 stats: dict | None = None, loss: float | None = None,
                 output: Tensor | None = None, phases: dict | None = None) -> None:
        self.grads = dict(grads)
        self.nudged_phases = int(nudged_phases)
        self.stats = stats if isinstance(stats, Stats) else Stats(stats or {})
        self.loss = loss
        self.output = output
        self.phases = phases

    # Mapping protocol: ``g["weights.0"]``, ``dict(g)``, ``g.items()``.
    def __getitem__(self, name: str) -> Tensor:
        return self.grads[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.grads)

    def __len__(self) -> int:
        return len(self.grads)

    def __repr__(self) -> str:
        shapes = ", ".join(f"{k}: {list(v.shape)}" for k, v in self.grads.items())
        return f"Gradient({shapes}; nudged_phases={self.nudged_phases})"

    def apply_(self, model: nn.Module, cost=None) -> nn.Module:
        """Write the estimate into ``p.grad`` so any ``torch.optim`` optimizer can step
        (``cost``: a cost with parameters of its own, e.g. :class:`~thermoep.SoftmaxReadout`)."""
        params = trainables(model, cost)
        missing = set(self.grads) - set(params)
        if missing:
            hint = (" (pass the cost: g.apply_(model, cost))"
                    if cost is None and any(k.startswith("readout.") for k in missing) else "")
            raise ValueError(f"gradient has entries {sorted(missing)} that the model lacks"
                             + hint)
        for name, g in self.grads.items():
            p = params[name]
            p.grad = g.detach().to(dtype=p.dtype, device=p.device).clone()
        return model

    def scaled(self, factor: float) -> Gradient:
        stats = self.stats.copy()
        if "se" in stats:
            se = stats["se"]
            stats["se"] = (se.scaled(factor) if hasattr(se, "scaled")
                           else {k: v * abs(factor) for k, v in se.items()})
        return Gradient({k: v * factor for k, v in self.grads.items()}, self.nudged_phases, stats,
                        self.loss, self.output, self.phases)

    def flat(self) -> Tensor:
        return torch.cat([v.reshape(-1) for v in self.grads.values()])

    def cosine(self, other: Mapping[str, Tensor]) -> float:
        a = self.flat()
        b = torch.cat([other[k].reshape(-1) for k in self.grads])
        den = float(a.norm() * b.norm())
        return float((a @ b) / den) if den > 0 else math.nan

    def to_dataset(self):
        """Scalar statistics as an ``xarray.Dataset`` (one variable per statistic)."""
        import xarray as xr

        data = {"nudged_phases": self.nudged_phases}
        for k, v in self.stats.items():
            if isinstance(v, (int, float)):
                data[k] = float(v)
        if self.loss is not None:
            data["loss"] = float(self.loss)
        data["grad_norm"] = float(self.flat().norm())
        if "se" in self.stats:
            se = torch.cat([v.reshape(-1) for v in self.stats["se"].values()])
            data["se_norm"] = float(se.norm())
        return xr.Dataset({k: ((), v) for k, v in data.items()})

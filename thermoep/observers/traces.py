"""Scalar traces per chain, ``[C, S]`` (batch-averaged), for ESS, split R-hat and
autocorrelation (``pyro.ops.stats``, chain_dim=0, sample_dim=1)."""

from __future__ import annotations

import torch

from .base import Observer
from .smoothing import plain


class Trace(Observer):
    """The batch mean of ``fn(target, state)`` (``[C, B]`` per kept state) per chain and kept
    state. Subclass it or pass ``fn`` for a trace of one's own.

    ``batch`` > 1 (Monte-Carlo phases): keep ``batch`` kept states and evaluate ``fn`` once on
    all of them, stacked along the chain dimension (``state.position`` then holds
    ``batch × C`` chains; the state's other fields are the last kept state's). For an ``fn``
    that reads only ``state.position`` and broadcasts over the chain dimension, the trace is the
    same, with one evaluation instead of ``batch``: at a few chains each evaluation is a handful
    of small kernels, often dearer than the sweep it observes. Memory: ``batch`` states.

    ``batch="auto"`` picks it when the phase starts: as many kept states as hold at most
    ``AUTO_NUMBERS`` numbers (2¹⁸: 1 MiB of float32, so they stay in cache), at most
    ``AUTO_MOST``. Measured with block Gibbs on one thread (``benchmarks/sampler_throughput.py``):
    a 64 × 64 lattice at one chain 243 µs a sweep with the 64 it picks against 264 µs with 256,
    at 64 chains 4,148 µs with 1 against 5,090 µs with 16.
    """

    AUTO_NUMBERS = 2 ** 18
    AUTO_MOST = 256

    def __init__(self, fn=None, *, name: str = "trace", batch: int | str = 1) -> None:
        self.fn, self.name = fn, name
        if batch != "auto" and (isinstance(batch, bool) or not isinstance(batch, int)
                                or batch < 1):
            raise ValueError(f"batch must be an int >= 1 or 'auto', got {batch!r}")
        self.batch_setting = batch
        self.batch = 1 if batch == "auto" else batch

    def value(self, target, state):
        return self.fn(target, state)

    def start(self, target, state, chains):
        super().start(target, state, chains)
        self.rows, self.pending, self.last = [], [], None
        if self.batch_setting == "auto":
            numbers = sum(p.numel() for p in state.position)
            self.batch = max(1, min(self.AUTO_MOST, self.AUTO_NUMBERS // max(1, numbers)))

    def update(self, target, state):
        if self.batch > 1 and self.chains is not None:
            # samplers return new tensors each step (never updated in place), so no copy
            self.pending.append(state.position)
            self.last = state
            if len(self.pending) == self.batch:
                self._flush(target)
            return
        v = self.value(target, state)
        self.rows.append(v.mean().reshape(1) if self.chains is None else v.mean(-1))

    def _flush(self, target):
        k, c = len(self.pending), self.chains
        stacked = tuple(torch.cat(layer, 0) for layer in zip(*self.pending, strict=True))
        v = self.value(target, self.last._replace(position=stacked))   # [k·C, B]
        self.rows.extend(v.mean(-1).reshape(k, c).unbind(0))
        self.pending = []

    def finish(self, target):
        if self.pending:
            self._flush(target)
        return torch.stack(self.rows, -1) if self.rows else None


class CostTrace(Trace):
    """ℓ(s_L, y) per chain and kept state."""

    def __init__(self, smoother=None, *, name: str = "cost_trace") -> None:
        super().__init__(name=name)
        self.smoother = smoother

    def value(self, target, state):
        return (self.smoother or plain)(target, state).cost


class LayerMeanTrace(Trace):
    """The mean of one free layer's units (its state s, not ρ(s)) per chain and kept state,
    batch-averaged: the magnetisation m = (1/N) Σ_i s_i of a layer of spins, the mean activity of
    a hidden layer. ``layer``: a free layer's name or index, None for the output layer; the name
    defaults to ``"<layer>_mean"`` (``"output_mean"``)."""

    def __init__(self, layer: str | int | None = None, *, name: str | None = None,
                 batch: int | str = 1) -> None:
        if not (layer is None or isinstance(layer, (str, int))) or isinstance(layer, bool):
            raise TypeError(f"layer must be a free layer's name or index or None (the output "
                            f"layer), got {layer!r}")
        label = "output" if layer is None else f"layer{layer}" if isinstance(layer, int) else \
            layer
        super().__init__(name=f"{label}_mean" if name is None else name, batch=batch)
        self.layer = layer

    def start(self, target, state, chains):
        super().start(target, state, chains)
        energy, layer = target.energy, self.layer
        if layer is None:
            self.k = energy.output
        elif isinstance(layer, str):
            try:
                self.k = energy.free_index(layer)
            except ValueError as exc:
                raise ValueError(f"{self!r}: {exc}") from None
        elif -energy.num_layers <= layer < energy.num_layers:
            self.k = layer % energy.num_layers
        else:
            raise ValueError(f"{self!r}: layer index {layer} is out of range: this energy has "
                             f"{energy.num_layers} free layers "
                             f"({[f.name for f in energy.free_layers]})")

    def value(self, target, state):
        s = state.position[self.k]
        lead = 1 if self.chains is None else 2       # [B, *shape] or [C, B, *shape]
        return s.reshape(*s.shape[:lead], -1).mean(-1)

    def __repr__(self) -> str:
        return f"LayerMeanTrace(layer={self.layer!r}, name={self.name!r})"


class EnergyTrace(Trace):
    """E(s; x) per chain and kept state."""

    def __init__(self, *, name: str = "energy_trace", batch: int | str = 1) -> None:
        super().__init__(name=name, batch=batch)

    def value(self, target, state):
        return target.energy.energy(target.x, state.position)


__all__ = ["CostTrace", "EnergyTrace", "LayerMeanTrace", "Trace"]

"""The sampler contract: a sampling problem (:class:`Target`), what one phase returns
(:class:`Phase`), and the checks every sampler shares.

A sampler is an ``init`` and a ``step`` over a NamedTuple state whose ``position`` is the network
state (one tensor per free layer, chains as the leading dimension, ``[C, B, *shape]``; the T = 0
relaxation has no chain dimension, ``[B, *shape]``):

    state = sampler.init(target, init=None, generator=g)
    state, info = sampler.step(target, state, t, generator=g)

:func:`thermoep.samplers.loop.sample` runs them (burn-in, thinning) and hands every kept state to
observers (``thermoep.observers``), which compute whatever statistics the caller asked for. A
sampler knows states and laws, never gradients.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from ..costs import Cost
from ..energies.model import Energy, State


def prepare(energy: Energy, cost: Cost, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
    """Validate and convert ``x`` and ``y`` for ``energy`` (dtype/device of its parameters);
    ``y``: class labels ``[B]`` or targets ``[B, n_out]`` (returned as targets)."""
    if not isinstance(energy, Energy):
        raise TypeError(f"energy must be a thermoep Energy, got {type(energy).__name__}")
    if not isinstance(cost, Cost):
        raise TypeError(f"cost must be a thermoep Cost, got {type(cost).__name__}")
    x = energy.check_input(x)
    y = cost.target(y, energy.layer_sizes[energy.output], dtype=energy.dtype,
                    device=energy.device)
    if y.shape[0] != x.shape[0]:
        raise ValueError(f"x has batch {x.shape[0]} but y has batch {y.shape[0]}")
    return x, y


def check_nudge(energy: Energy, cost: Cost, nudge: float) -> None:
    """Refuse a nudge b for which E + bℓ is unbounded below along the output layer.

    For b < 0 the cost pulls the output away from the target; once b·(cost curvature) cancels the
    self term's curvature k (ℓ = ½‖s_L − y‖² against ½‖s_L‖²: b ≤ −1), p_b ∝ exp(−(E + bℓ)/T) is
    not normalisable and relaxation runs off to infinity. Centered and negative estimators at
    |β| ≥ k/c therefore have no nudged equilibrium; this says so instead of returning numbers.
    """
    k, c = energy.output_curvature, cost.curvature
    if isinstance(nudge, complex) or nudge >= 0.0 or k is None or c is None or \
            k + nudge * c > 0.0:
        return
    raise ValueError(
        f"nudge b = {nudge:g} has no equilibrium for {type(energy).__name__} with {cost!r}: "
        f"b × cost curvature {c:g} cancels the output layer's self-term curvature {k:g}, so "
        "E + bℓ is unbounded below (p_b is not normalisable, relaxation diverges). Negative "
        f"nudges need b > {-k / c:g}: use |β| < {k / c:g} with centered, negative or "
        "random-sign estimators"
    )


@dataclass
class Target:
    """One sampling problem: p_b(s) ∝ exp(−(E(s; x) + b·ℓ(s_L, y))/T) (T is set from the
    sampler by :func:`thermoep.samplers.loop.sample`).

    ``x`` and ``y`` are prepared (:func:`prepare`). ``clamp`` fixes the output layer to the given
    values (the clamped phases of contrastive and coupled learning). Targets made by :meth:`at`
    for other nudges of the same batch share :attr:`cache`, so what depends on the batch alone
    (the input drive, :meth:`constant_fields`) is computed once for all its phases.

    A *stacked* target (:meth:`stacked`) holds several nudges b_1..b_P at once: ``nudge`` is then
    a tensor ``[P]``, ``ladder`` the nudges as numbers, and the states of a sampler that can run
    it (``stacks_nudges``) carry a leading phase dimension, ``[P, C, B, *shape]``.
    """

    energy: Energy
    cost: Cost
    x: Tensor
    y: Tensor
    nudge: float = 0.0
    clamp: Tensor | None = None
    temperature: float = 0.0
    cache: dict = field(default_factory=dict, repr=False)
    ladder: tuple[float, ...] | None = None

    @classmethod
    def of(cls, energy: Energy, cost: Cost, x: Tensor, y: Tensor, nudge: float = 0.0,
           **kw) -> Target:
        """A target from raw ``x`` and labels or targets ``y`` (validated)."""
        x, y = prepare(energy, cost, x, y)
        return cls(energy, cost, x, y, float(nudge), **kw)

    def at(self, nudge: float | complex, clamp: Tensor | None = None) -> Target:
        """The same batch at another nudge (sharing the cache); a complex nudge (holomorphic
        EP) runs the relaxation on complex states."""
        nudge = nudge if isinstance(nudge, complex) else float(nudge)
        return Target(self.energy, self.cost, self.x, self.y, nudge, clamp,
                      self.temperature, self.cache)

    def stacked(self, nudges) -> Target:
        """The same batch at every nudge of ``nudges`` at once (class docstring)."""
        ladder = tuple(float(b) for b in nudges)
        b = torch.tensor(ladder, dtype=self.x.dtype, device=self.x.device)
        return Target(self.energy, self.cost, self.x, self.y, b, self.clamp, self.temperature,
                      self.cache, ladder)

    def phase(self, p: int) -> Target:
        """The p-th nudge of a stacked target, as a target of its own."""
        return Target(self.energy, self.cost, self.x, self.y, self.ladder[p], self.clamp,
                      self.temperature, self.cache)

    @property
    def phases(self) -> int | None:
        """P for a stacked target, else None."""
        return None if self.ladder is None else len(self.ladder)

    @property
    def nudged(self) -> bool:
        """Some nudge is non-zero."""
        if self.ladder is not None:
            return any(b != 0.0 for b in self.ladder)
        return self.nudge != 0.0

    def nudge_for(self, t: Tensor):
        """b, shaped to multiply ``t`` (``[P, ...]`` for a stacked target)."""
        if self.ladder is None:
            return self.nudge
        return self.nudge.reshape(-1, *([1] * (t.dim() - 1)))

    @property
    def batch(self) -> int:
        return self.x.shape[0]

    def constant_fields(self) -> tuple[Tensor | None, ...]:
        """:meth:`Energy.constant_fields` of x, computed once per batch (without autograd: a
        differentiable relaxation recomputes it, so gradients reach the parameters)."""
        if not torch.is_grad_enabled():
            hit = self.cache.get("constant_fields")
            if hit is None:
                hit = self.energy.constant_fields(self.x)
                self.cache["constant_fields"] = hit
            return hit
        return self.energy.constant_fields(self.x)


@dataclass
class Phase:
    """The outcome of one phase (one value of the nudge b).

    Attributes:
        nudge: b.
        state: the last state (``[C, B, *shape]`` per layer; ``[B, *shape]`` at T = 0), for warm
            starts.
        observed: what each observer computed, by observer name.
        info: sampler facts (steps, residual, acceptance, samples, ...).
    """

    nudge: float
    state: State
    observed: dict[str, Any] = field(default_factory=dict)
    info: dict[str, float] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Any:
        if name not in self.observed:
            raise KeyError(f"no observer named {name!r} ran in this phase; observed: "
                           f"{sorted(self.observed)}")
        return self.observed[name]

    @property
    def output(self) -> Tensor:
        """E_b[s_L] per input, ``[B, n_L]`` (the ``output`` observer)."""
        return self["output"]

    @property
    def cost(self) -> Tensor:
        """E_b[ℓ] per input, ``[B]`` (the ``cost`` observer)."""
        return self["cost"]

    @property
    def trace(self) -> dict[str, Tensor]:
        """Scalar chain traces ``{"cost": [C, S], "energy": [C, S]}`` (batch-averaged) of the
        trace observers that ran."""
        return {k[: -len("_trace")]: v for k, v in self.observed.items() if k.endswith("_trace")}

    @property
    def chains(self) -> int:
        """Chains of the phase (0 for the deterministic relaxation)."""
        return int(self.info.get("chains", 0))


__all__ = ["Phase", "Target", "check_nudge", "prepare"]

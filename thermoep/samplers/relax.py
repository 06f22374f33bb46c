"""Deterministic relaxation (T = 0): settle to a minimiser s*_b of E + b·ℓ.

Block coordinate descent over the energy's layer blocks (Gauss–Seidel over a colouring of the
layer graph, the even/odd layers of a layered network, as in Scellier et al.'s asynchronous
minimiser; ``mode="jacobi"`` updates every layer at once), with the field h_l of each layer from
the energy's terms. Per unit kind:

    s_l ← Π( s_l − η (c'(s_l) − ρ'(s_l) ⊙ h_l + b ∂ℓ/∂s_l) )          projected gradient step,
    s_l ← Π( (1 − η) s_l + η σ(h_l − b ∂ℓ/∂s_l) )                      units with a closed-form
                                                                      minimiser (prototypical),

with Π the unit's projection (the box [0, 1] for hard-sigmoid units). For the Hopfield energy with
η = 1 the first is the classic fixed-point map s_l ← ρ'(s_l) ⊙ h_l; for prototypical units η = 1
is an exact block minimisation. The part of each field that depends on the input alone (the input
drive x W_1 + b_1) is computed once per batch (``Target.constant_fields``). Per-sample residuals
‖Δs‖/η (the projected-gradient norm, shape [batch]) are reported, and the relaxation stops early
once the largest one is below ``tol``.

``precision="float16"`` or ``"bfloat16"`` runs the steps in reduced precision (the states, and the
matmuls and convolutions through ``torch.autocast``; on a GPU, as the 16-bit runs of
ebl-algorithms-comparative-study): parameters stay float32, and the final state is returned in
the energy's dtype, so the gradients and every accumulation are float32.

For gradient checks against implicit differentiation (error slopes in β), settle to a tolerance,
not a fixed step count: e.g. ``Relaxation(steps=5000, tol=1e-13)`` in float64. With few steps the
unsettled fixed point adds an error ∝ residual/β that hides the O(β) and O(β²) biases.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import torch
from torch import Tensor

from .. import _checks
from ..energies.model import State
from ..observers import CostMean, OutputMean
from .base import Target, check_nudge, prepare
from .fields import Fields
from .loop import sample

PRECISIONS = {"float16": torch.float16, "bfloat16": torch.bfloat16}

#: relaxation step per unit kind, measured to contract in 30 steps on 784-512-10 and
#: 784-256-256-10 at init (sigmoid4's larger ρ'' needs the smaller step); units with a
#: closed-form minimiser take η = 1 (exact block minimisation); the rest DEFAULT_STEP
STEP_SIZES = {"sigmoid4": 0.5}
DEFAULT_STEP = 0.7


def _descent(unit):
    """The update rule of one layer of ``unit`` kind: (s, ρ', h, extra, η) → new s."""
    project = unit.project if unit.needs_projection else None

    if unit.has_minimiser:
        def rule(s, prime, h, extra, eta):
            if prime is not None:
                h = h * prime
            t = unit.minimiser(h if extra is None else h - extra)
            if eta != 1.0:
                t = torch.lerp(s, t, eta)
            return t if project is None else project(t)
    elif unit.unit_self_grad:
        def rule(s, prime, h, extra, eta):
            # s − η(s − ρ'h + extra) = (1 − η)s + η ρ'h − η·extra, fused
            if prime is None:
                t = torch.add(s * (1.0 - eta), h, alpha=eta)
            else:
                t = torch.addcmul(s * (1.0 - eta), prime, h, value=eta)
            if extra is not None:
                t = t - eta * extra
            return t if project is None else project(t)
    else:
        def rule(s, prime, h, extra, eta):
            g = unit.self_grad(s) - (h if prime is None else prime * h)
            if extra is not None:
                g = g + extra
            t = s - eta * g
            return t if project is None else project(t)
    return rule


class _Plan:
    """What every step of one phase reuses: blocks, step sizes, update rules, field terms."""

    def __init__(self, sampler, target: Target) -> None:
        energy = target.energy
        self.energy, self.cost, self.y = energy, target.cost, target.y
        self.nudge, self.out = target.nudge, energy.output
        self.clamped = target.clamp is not None
        free = [k for k in range(energy.num_layers) if not (self.clamped and k == self.out)]
        blocks = energy.layer_blocks if sampler.mode == "blocks" else (tuple(free),)
        self.blocks = [tuple(k for k in b if k in free) for b in blocks]
        self.blocks = [b for b in self.blocks if b]
        units = energy.units
        self.eta = [sampler.step_size if sampler.step_size is not None else
                    1.0 if u.has_minimiser else STEP_SIZES.get(u.name, DEFAULT_STEP)
                    for u in units]
        self.rules = [_descent(u) for u in units]
        self.fields = Fields(energy, target.constant_fields(),
                             complex_states=isinstance(target.nudge, complex))
        self.where = [energy._layer_of_free[k] for k in range(energy.num_layers)]
        self.dims = [tuple(range(-layer.ndim, 0)) for layer in energy.free_layers]
        # ρ and ρ' per layer: the unit's own (fused) function unless dropout scales the layer
        self.rho_and_prime = [u.rho_and_prime if energy.unit_scale(k) is None else
                              functools.partial(energy.rho_and_prime, k)
                              for k, u in enumerate(units)]


def check_holomorphic(energy, who: str) -> None:
    """Refuse complex states for an energy with units that are not holomorphic (``who``: what
    asks for them, for the message)."""
    bad = [f"{layer.name} ({layer.unit.name})" for layer in energy.free_layers
           if not layer.unit.holomorphic]
    if bad:
        raise TypeError(f"{who} runs the relaxation on complex states, which needs holomorphic "
                        f"units (tanh, sigmoid4, linear); layers {', '.join(bad)} are not")


class RelaxationState(NamedTuple):
    position: State            # s per free layer, [B, *shape]
    rho: list                  # ρ of every layer (the input as itself)
    prime: tuple               # ρ' per free layer (None where ≡ 1)
    residual: Tensor | None    # [B] ‖Δs‖/η of the last measured step
    steps: int                 # steps planned for this phase
    plan: _Plan

    @property
    def chains(self) -> None:
        return None


class Relaxation:
    """T = 0 member of the sampler interface: at most ``steps`` steps from the energy's initial
    state for the free phase, ``nudged_steps`` (default: ``steps``) for a phase warm-started
    from a given state (the nudged phases start from the free fixed point). ``step_size`` None:
    per unit kind (:data:`STEP_SIZES`)."""

    temperature = 0.0
    deterministic = True
    chains = 1

    def __init__(self, steps: int = 30, *, nudged_steps: int | None = None,
                 step_size: float | None = None, tol: float = 0.0, mode: str = "blocks",
                 precision: str | None = None) -> None:
        self.steps = _checks.positive_int("steps", steps)
        self.nudged_steps = self.steps if nudged_steps is None else _checks.positive_int(
            "nudged_steps", nudged_steps)
        self.step_size = None if step_size is None else _checks.positive_float("step_size",
                                                                                step_size)
        self.tol = _checks.positive_float("tol", tol, allow_zero=True)
        if mode not in ("blocks", "jacobi"):
            raise ValueError(f"mode must be 'blocks' or 'jacobi', got {mode!r}")
        self.mode = mode
        if precision is not None and precision not in PRECISIONS:
            raise ValueError(f"precision must be None (the energy's dtype) or one of "
                             f"{sorted(PRECISIONS)}, got {precision!r}")
        self.precision = precision

    def __repr__(self) -> str:
        extra = "" if self.precision is None else f", precision={self.precision!r}"
        return (f"Relaxation(steps={self.steps}, nudged_steps={self.nudged_steps}, "
                f"step_size={self.step_size}, tol={self.tol}, mode={self.mode!r}{extra})")

    # -- the sampler interface ---------------------------------------------------------------------
    def steps_for(self, init) -> int:
        return self.steps if init is None else self.nudged_steps

    def check(self, energy, cost) -> None:
        """Refuse what the relaxation cannot settle: discrete units."""
        if energy.discrete:
            raise TypeError(f"{type(energy).__name__} has discrete units: deterministic "
                            "relaxation needs continuous units; use Gibbs")

    def init(self, target: Target, init: State | None = None, generator=None,
             steps: int | None = None) -> RelaxationState:
        energy = target.energy
        self.check(energy, target.cost)
        complex_nudge = isinstance(target.nudge, complex)
        if complex_nudge:
            check_holomorphic(energy, "a complex nudge")
        elif target.clamp is None:
            check_nudge(energy, target.cost, target.nudge)
        s = list(energy.init_state((target.batch,)) if init is None else init)
        if complex_nudge:
            s = [t.to(torch.complex128 if t.dtype == torch.float64 else torch.complex64)
                 for t in s]
        elif self.precision is not None:
            s = [t.to(PRECISIONS[self.precision]) for t in s]
        if target.clamp is not None:
            k = energy.output
            s[k] = target.clamp.to(s[k].dtype).expand_as(s[k])
        both = [energy.rho_and_prime(k, t) for k, t in enumerate(s)]
        rho = energy.with_free(target.x, [r for r, _ in both])
        return RelaxationState(tuple(s), rho, tuple(p for _, p in both), None,
                               self.steps_for(init) if steps is None else steps,
                               _Plan(self, target))

    def step(self, target: Target, state: RelaxationState, t: int, generator=None):
        if self.precision is None:
            return self._step(target, state, t)
        with torch.autocast(target.x.device.type, dtype=PRECISIONS[self.precision]):
            return self._step(target, state, t)

    def finish_state(self, state: RelaxationState) -> RelaxationState:
        """The final state in the energy's dtype (reduced-precision steps end here)."""
        if self.precision is None:
            return state
        energy = state.plan.energy
        s = tuple(t.to(energy.dtype) for t in state.position)
        both = [energy.rho_and_prime(k, t) for k, t in enumerate(s)]
        rho = energy.with_free(state.rho[0] if energy.input is None else
                               state.rho[energy._index[energy.input.name]], [r for r, _ in both])
        residual = None if state.residual is None else state.residual.float()
        return state._replace(position=s, rho=rho, prime=tuple(p for _, p in both),
                              residual=residual)

    def _step(self, target: Target, state: RelaxationState, t: int):
        plan = state.plan
        nudge = plan.nudge
        s, rho, prime = list(state.position), list(state.rho), list(state.prime)
        measure = self.tol > 0 or t == state.steps - 1
        residual = None
        for block in plan.blocks:
            new = []
            for k in block:
                h = plan.fields(k, rho, s[k])
                extra = nudge * plan.cost.grad(s[k], plan.y) if (
                    k == plan.out and nudge != 0.0) else None
                new.append((k, plan.rules[k](s[k], prime[k], h, extra, plan.eta[k])))
            for k, t_new in new:
                if measure:
                    d = ((t_new - s[k]).abs() ** 2).sum(plan.dims[k]) / plan.eta[k] ** 2
                    residual = d if residual is None else residual + d
                s[k] = t_new
                rho[plan.where[k]], prime[k] = plan.rho_and_prime[k](t_new)
        if measure:
            residual = residual.detach().float().sqrt()
        else:
            residual = state.residual
        return RelaxationState(tuple(s), rho, tuple(prime), residual, state.steps, plan), None

    def converged(self, state: RelaxationState) -> bool:
        return (self.tol > 0 and state.residual is not None
                and float(state.residual.max()) < self.tol)

    def summary(self, state: RelaxationState, means: dict) -> dict[str, float]:
        r = state.residual
        if r is None:
            return {}
        return {"residual": float(r.max()), "residual_mean": float(r.mean())}

    # -- conveniences ------------------------------------------------------------------------------
    def settle(self, energy, cost, x: Tensor, y: Tensor, nudge: float,
               init: State | None = None, steps: int | None = None,
               clamp: Tensor | None = None) -> tuple[State, Tensor, int]:
        """Run the relaxation on prepared ``x``, ``y``; returns (state, residual [B], steps
        taken). Differentiable (BPTT runs through it); ``clamp`` fixes the output layer."""
        target = Target(energy, cost, x, y, float(nudge), clamp)
        state = self.init(target, init, steps=steps)
        taken = 0
        step = self._step if self.precision is None else self.step
        for t in range(state.steps):
            state, _ = step(target, state, t)
            taken += 1
            if self.converged(state):
                break
        state = self.finish_state(state)
        residual = state.residual
        if residual is None:
            residual = torch.zeros(target.batch, dtype=target.x.dtype, device=target.x.device)
        return state.position, residual, taken

    def run(self, energy, cost, x: Tensor, y: Tensor, nudge: float = 0.0, *,
            init: State | None = None, generator=None, clamp: Tensor | None = None,
            observers=None):
        """Settle at nudge b and observe the fixed point (default observers: the output and
        the cost); ``y``: class labels or targets."""
        x, y = prepare(energy, cost, x, y)
        target = Target(energy, cost, x, y, float(nudge), clamp)
        observers = [OutputMean(), CostMean()] if observers is None else observers
        return sample(self, target, observers=observers, init=init, generator=generator)


__all__ = ["DEFAULT_STEP", "STEP_SIZES", "Relaxation", "RelaxationState"]

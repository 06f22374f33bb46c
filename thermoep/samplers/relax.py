"""Deterministic relaxation (T = 0): settle to a minimiser s*_b of E + b·ℓ.

Projected gradient descent with the analytic ∂E/∂s, by default block-wise (Gauss–Seidel over the
even/odd layer blocks, which do not interact, as in Scellier et al.'s asynchronous minimiser):

    s_l ← Π( s_l − η (∂E/∂s_l + b ∂ℓ/∂s_l) ),

with Π the energy's projection (the box [0, 1] for hard-sigmoid units, identity otherwise). For the
Hopfield energy with η = 1 this is the classic fixed-point map s_l ← ρ'(s_l) ⊙ h_l (hard sigmoid:
s_l ← clip(h_l)). The input drive x W_1 + b_1 is computed once per phase. Per-sample residuals
‖Δs‖/η (the projected-gradient norm, shape [batch]) are reported, and the loop stops early once the
largest one is below ``tol``.

For gradient checks against implicit differentiation (error slopes in β), settle to a tolerance,
not a fixed step count: e.g. ``Relaxation(steps=5000, tol=1e-13)`` in float64. With few steps the
unsettled fixed point adds an error ∝ residual/β that hides the O(β) and O(β²) biases.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .. import _checks
from ..costs import Cost
from ..energies.base import LayeredEnergy, State
from .base import Phase, check_nudge


class Relaxation:
    """T = 0 "sampler": at most ``steps`` steps from the zero state for the free phase, and
    ``nudged_steps`` (default: ``steps``) for a phase warm-started from a given state (the nudged
    phases start from the free fixed point)."""

    temperature = 0.0
    deterministic = True
    chains = 1

    def __init__(self, steps: int = 30, *, nudged_steps: int | None = None,
                 step_size: float | None = None, tol: float = 0.0, mode: str = "blocks") -> None:
        self.steps = _checks.positive_int("steps", steps)
        self.nudged_steps = self.steps if nudged_steps is None else _checks.positive_int(
            "nudged_steps", nudged_steps)
        #: None: the energy's ``relax_step_size`` (the largest step that still contracts well
        #: for its activation: 0.7 for tanh / hard sigmoid, 0.5 for sigmoid4)
        self.step_size = None if step_size is None else _checks.positive_float("step_size",
                                                                                step_size)
        self.tol = _checks.positive_float("tol", tol, allow_zero=True)
        if mode not in ("blocks", "jacobi"):
            raise ValueError(f"mode must be 'blocks' or 'jacobi', got {mode!r}")
        self.mode = mode

    def __repr__(self) -> str:
        return (f"Relaxation(steps={self.steps}, nudged_steps={self.nudged_steps}, "
                f"step_size={self.step_size}, tol={self.tol}, mode={self.mode!r})")

    def settle(self, energy: LayeredEnergy, cost: Cost, x: Tensor, y: Tensor, nudge: float,
               init: State | None = None, steps: int | None = None,
               drive: Tensor | None = None, clamp: Tensor | None = None,
               ) -> tuple[State, Tensor, int]:
        """Run the relaxation; returns (state, residual [B], steps taken). Differentiable.

        ``clamp`` fixes the output layer to the given values (contrastive / coupled learning);
        the residual is computed on the last step only, or on every step when ``tol > 0``.
        """
        if energy.binary:
            raise TypeError(
                f"{type(energy).__name__} has binary units: deterministic relaxation needs "
                "continuous units; use Gibbs"
            )
        if clamp is None:
            check_nudge(energy, cost, nudge)
        steps = self.steps if steps is None else steps
        B = x.shape[0]
        s = list(energy.init_state((B,)) if init is None else init)
        drive = energy.input_drive(x) if drive is None else drive
        eta = self.step_size or getattr(energy, "relax_step_size", 0.5)
        L = energy.num_layers
        free_layers = range(L - 1) if clamp is not None else range(L)
        if clamp is not None:
            s[L - 1] = clamp.to(s[0].dtype).expand_as(s[L - 1])
        blocks = energy.blocks if self.mode == "blocks" else (tuple(range(L)),)
        blocks = [tuple(i for i in b if i in free_layers) for b in blocks]
        residual = torch.zeros(B, dtype=x.dtype, device=x.device)
        taken = 0
        hot = energy.hot_parameters()
        both = [energy.rho_and_prime_layer(i, t) for i, t in enumerate(s)]
        rho_s = [r for r, _ in both]
        prime = [p for _, p in both]
        for step in range(steps):
            measure = self.tol > 0 or step == steps - 1
            if measure:
                residual = torch.zeros(B, dtype=x.dtype, device=x.device)
            for block in blocks:
                new = {}
                for i in block:
                    h = energy.fast_field(rho_s, i, drive, hot)
                    extra = nudge * cost.grad(s[i], y) if i == L - 1 and nudge != 0.0 else None
                    new[i] = energy.descent_step(i, s[i], prime[i], h, eta, extra)
                for i, t in new.items():
                    if measure:
                        residual = residual + ((t - s[i]) ** 2).sum(-1)
                    s[i] = t
                    rho_s[i], prime[i] = energy.rho_and_prime_layer(i, t)
            taken += 1
            if measure:
                residual = residual.detach().sqrt() / eta
                if self.tol > 0 and float(residual.max()) < self.tol:
                    break
        return tuple(s), residual, taken

    def run(self, energy: LayeredEnergy, cost: Cost, x: Tensor, y: Tensor, nudge: float, *,
            init: State | None = None, generator=None, covariance: bool = False,
            clamp: Tensor | None = None) -> Phase:
        """Settle at nudge b; ``grad`` is ∂θ(E + bℓ)(s*_b) / B (the cost's own parameters
        included, which for θ-free costs is ∂θE)."""
        steps = self.steps if init is None else self.nudged_steps
        with torch.no_grad():
            s, residual, taken = self.settle(energy, cost, x, y, nudge, init, steps, clamp=clamp)
            B = x.shape[0]
            grad = {k: v / B for k, v in energy.param_grad(x, s).items()}
            # a cost with parameters φ (SoftmaxReadout): ∂φ(E + bℓ) = b·∂φℓ at s*_b
            grad.update({k: v * (nudge / B) for k, v in cost.param_grad(s[-1], y).items()})
            return Phase(
                nudge=nudge, state=s, grad=grad, cost=cost.value(s[-1], y), output=s[-1],
                info={"steps": float(taken), "residual": float(residual.max()),
                      "residual_mean": float(residual.mean())},
            )

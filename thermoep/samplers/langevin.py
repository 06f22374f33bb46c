"""Langevin samplers for continuous units: unadjusted (ULA) and Metropolis-adjusted (MALA).

Target p_b(s) ∝ exp(−U(s)/T) with U = E + b·ℓ. One step with step size η:

    s' = s − η ∇U(s) + √(2ηT) ξ,   ξ ~ N(0, I),

the Euler–Maruyama discretisation of ds = −∇U dt + √(2T) dW, whose stationary law is exp(−U/T)
(the √(2ηT) factor sets the temperature; tests/test_samplers.py checks it on a Gaussian).
ULA carries an O(η) bias; MALA removes it by accepting s' with probability

    min(1, exp(−(U(s') − U(s))/T) q(s | s') / q(s' | s)),
    q(s' | s) = N(s'; s − η∇U(s), 2ηT I).

Each (chain, input) pair is one chain; acceptance is per pair, a NaN energy difference is a
rejection. The state caches U and ∇U so MALA costs one gradient per step; a ULA state also
carries the Gaussian law N(m, 2ηT) its position was drawn from, for the step Rao–Blackwellisation
(:class:`thermoep.observers.StepSmoother`).

``mode``: ``"jacobi"`` (default) moves every layer at once from the same state, as above.
``"blocks"`` (ULA only) moves the energy's layer blocks (``Energy.layer_blocks``: even, then odd
layers of a layered network) in turn, each block's drift taken at the state its predecessors
just left: a Gauss–Seidel order, s'_k = s_k − η∇_k U(s'_{<k}, s_{≥k}) + √(2ηT) ξ_k. Each block's
move is still an Euler–Maruyama step of the same diffusion (the O(η) bias differs; both laws are
known in closed form on a Gaussian network: tests/test_langevin_blocks.py). Why: a drift step is
a damped step towards the fixed point. Moving coupled layers together (jacobi), the coupling
enters each step's factor (1 − η ± ησ for the singular values σ of a linear coupling); moving
them in turn, as the T = 0 relaxation's blocks do, each layer sees its neighbours' fresh states
and the chain relaxes in fewer steps at the same η (benchmarks/results/langevin_steps.md).
Either order is stable only for η below 2 over the stiffest unit's curvature, which grows as a
network trains: choose η on a trained network, not at initialisation.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor

from .. import _checks
from ..energies.model import State
from .base import Target, check_nudge
from .fields import Fields
from .monte_carlo import MonteCarloSampler

#: the orders in which a step moves the layers (module docstring)
MODES = ("jacobi", "blocks")


class LangevinState(NamedTuple):
    position: State
    potential: Tensor | None     # U = E + bℓ, [C, B] (MALA)
    grad: State | None           # ∇U (jacobi mode)
    step_mean: State | None      # m = s − η∇U(s) of the step that drew position (ULA, jacobi)
    step_var: float | None       # 2ηT
    chains: int
    rho: list | None = None      # ρ of every layer at position (the input as itself)
    fields: Fields | None = None  # the phase's field program (built once, in init)
    prime: tuple | None = None   # ρ' of every free layer at position (blocks mode; None: ≡ 1)


def check_continuous(energy, who: str) -> None:
    """Refuse energies whose states are not all of ℝⁿ."""
    for layer in energy.free_layers:
        kind = layer.unit.support.kind
        if kind == "discrete":
            raise TypeError(f"{type(energy).__name__} has discrete ({layer.unit.name}) units: "
                            f"{who} needs continuous units; use Gibbs")
        if kind != "real":
            raise TypeError(
                f"{type(energy).__name__}: layer {layer.name!r} ({layer.unit.name}) has an "
                f"energy that is infinite outside a box (the self term ∫σ⁻¹ is a barrier), "
                f"which {who} steps cannot respect; sample LayeredHopfield instead, or use "
                "Relaxation for T = 0")


def potential(target: Target, s: State, need_u: bool = True, fields: Fields | None = None):
    """(U, ∇U, ρ) at s with ρ(s) computed once; U is None when not needed (ULA). ρ (every
    layer's, the input as itself) is kept in the state, so observers need not compute it
    again. ``fields``: the phase's :class:`~thermoep.samplers.fields.Fields` (else built)."""
    energy, x = target.energy, target.x
    both = [energy.rho_and_prime(k, t) for k, t in enumerate(s)]
    rho = energy.with_free(x, [r for r, _ in both])
    if fields is None:
        fields = Fields(energy, target.constant_fields())
    grads = tuple(layer_grad(target, k, t, both[k][1], fields(k, rho, t))
                  for k, t in enumerate(s))
    u = energy.energy(x, s, rho) if need_u else None
    if target.nudged and need_u:
        ell = target.cost.value(s[energy.output], target.y)
        u = u + target.nudge_for(ell) * ell
    return u, grads, rho


def layer_grad(target: Target, k: int, t: Tensor, prime: Tensor | None, h: Tensor) -> Tensor:
    """∇_k U of free layer k at state ``t`` with ρ'(t) = ``prime`` (None: ≡ 1) and field h:
    c'(t) − ρ'(t) h, plus b ∂ℓ/∂s for the output layer of a nudged target."""
    own = target.energy.free_layers[k].unit.self_grad(t)
    g = own - h if prime is None else torch.addcmul(own, prime, h, value=-1.0)
    if target.nudged and k == target.energy.output:
        dl = target.cost.grad(t, target.y)
        b = target.nudge_for(dl)
        g = g.add(dl, alpha=b) if isinstance(b, float) else g + b * dl
    return g


class Langevin(MonteCarloSampler):
    """ULA (``metropolis=False``) or MALA (``metropolis=True``) with ``chains`` chains per
    input. ``steps`` counts every step; the first ``burn_in`` are discarded, then every
    ``thin``-th state is kept. ``warm_steps`` / ``warm_burn_in``: the same for a phase started
    from another phase's state (default: ``steps`` / ``burn_in``)."""

    def __init__(self, step_size: float = 0.4, steps: int = 30, burn_in: int = 10,
                 temperature: float = 0.01, metropolis: bool = False, chains: int = 4,
                 thin: int = 1, coupled: bool = False, mode: str = "jacobi",
                 warm_steps: int | None = None, warm_burn_in: int | None = None) -> None:
        super().__init__(steps=steps, burn_in=burn_in, temperature=temperature, chains=chains,
                         thin=thin, coupled=coupled, warm_steps=warm_steps,
                         warm_burn_in=warm_burn_in)
        self.step_size = _checks.positive_float("step_size", step_size)
        self.metropolis = bool(metropolis)
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        if mode == "blocks" and self.metropolis:
            raise ValueError("mode='blocks' is unadjusted Langevin: MALA's Metropolis test is "
                             "for a move of every layer at once (use mode='jacobi')")
        self.mode = mode

    #: runs a stacked target (several nudges as one tensor program, common random numbers)
    stacks_nudges = True

    @property
    def gaussian_steps(self) -> bool:
        """ULA in jacobi mode: the next state is N(s − η∇U(s), 2ηT) given the current one,
        independently per unit (in blocks mode a block's mean depends on the draws before it)."""
        return not self.metropolis and self.mode == "jacobi"

    def __repr__(self) -> str:
        return (f"Langevin(step_size={self.step_size}, steps={self.steps}, "
                f"burn_in={self.burn_in}, temperature={self.temperature}, "
                f"metropolis={self.metropolis}, chains={self.chains}, thin={self.thin}, "
                f"coupled={self.coupled}, mode={self.mode!r}{self._warm_repr()})")

    def check(self, energy, cost) -> None:
        check_continuous(energy, "Langevin")

    def init(self, target: Target, init: State | None = None, generator=None) -> LangevinState:
        self.check(target.energy, target.cost)
        for b in target.ladder or (target.nudge,):
            check_nudge(target.energy, target.cost, b)
        pos = self.initial_state(target, init, generator)
        if target.phases is not None:  # every phase starts from the same state
            pos = tuple(t.unsqueeze(0).expand(target.phases, *t.shape) for t in pos)
        fields = Fields(target.energy, target.constant_fields())
        u, g, rho = potential(target, pos, self.metropolis, fields)
        return LangevinState(pos, u, g, None, None, self.chains, rho, fields)

    def step(self, target: Target, state: LangevinState, t: int, generator=None):
        if self.mode == "blocks":
            return self._blocks_step(target, state, generator), None
        eta, T = self.step_size, self.temperature
        noise = math.sqrt(2.0 * eta * T)
        mean = tuple(p.add(g, alpha=-eta) for p, g in zip(state.position, state.grad, strict=True))
        # a stacked target's phases share the noise (common random numbers): one draw per unit
        lead = 0 if target.phases is None else 1
        prop = tuple(m.add(torch.randn(m.shape[lead:], generator=generator, dtype=m.dtype,
                                       device=m.device), alpha=noise) for m in mean)
        u_new, g_new, rho_new = potential(target, prop, self.metropolis, state.fields)
        if not self.metropolis:
            return LangevinState(prop, None, g_new, mean, 2.0 * eta * T, state.chains,
                                 rho_new, state.fields), None
        # log q(a | b) = −‖a − b + η∇U(b)‖² / (4ηT) + const
        energy = target.energy
        dims = [tuple(range(-layer.ndim, 0)) for layer in energy.free_layers]
        fwd = sum(((q - p + eta * gp) ** 2).sum(d) for q, p, gp, d in
                  zip(prop, state.position, state.grad, dims, strict=True))
        bwd = sum(((p - q + eta * gq) ** 2).sum(d) for q, p, gq, d in
                  zip(prop, state.position, g_new, dims, strict=True))
        log_alpha = -(u_new - state.potential) / T + (fwd - bwd) / (4.0 * eta * T)
        log_alpha = torch.nan_to_num(log_alpha, nan=-math.inf)
        unif = torch.rand(log_alpha.shape[lead:], generator=generator, dtype=log_alpha.dtype,
                          device=log_alpha.device)
        accept = torch.log(unif) < log_alpha

        def pick(a, b, nd):
            return torch.where(accept.reshape(*accept.shape, *([1] * nd)), a, b)

        nds = [layer.ndim for layer in energy.free_layers]
        pos = tuple(pick(q, p, nd) for q, p, nd in zip(prop, state.position, nds, strict=True))
        grad = tuple(pick(a, b, nd) for a, b, nd in zip(g_new, state.grad, nds, strict=True))
        rho = [r_new if j not in energy._free_of else
               pick(r_new, r_old, energy.free_layers[energy._free_of[j]].ndim)
               for j, (r_new, r_old) in enumerate(zip(rho_new, state.rho, strict=True))]
        new = LangevinState(pos, torch.where(accept, u_new, state.potential), grad, None, None,
                            state.chains, rho, state.fields)
        return new, {"acceptance": accept.to(log_alpha.dtype).mean()}

    def _blocks_step(self, target: Target, state: LangevinState, generator) -> LangevinState:
        """One step in blocks mode: each layer block moves from the state the blocks before it
        left (module docstring)."""
        energy = target.energy
        eta = self.step_size
        noise = math.sqrt(2.0 * eta * self.temperature)
        lead = 0 if target.phases is None else 1  # stacked phases share the noise
        pos, rho = list(state.position), list(state.rho)
        prime = (list(state.prime) if state.prime is not None
                 else [energy.rho_and_prime(k, t)[1] for k, t in enumerate(pos)])
        for block in energy.layer_blocks:
            moved = []
            for k in block:
                g = layer_grad(target, k, pos[k], prime[k], state.fields(k, rho, pos[k]))
                new = pos[k].add(g, alpha=-eta)
                moved.append((k, new.add_(torch.randn(new.shape[lead:], generator=generator,
                                                      dtype=new.dtype, device=new.device),
                                          alpha=noise)))
            for k, new in moved:
                pos[k] = new
                rho[energy._layer_of_free[k]], prime[k] = energy.rho_and_prime(k, new)
        return LangevinState(tuple(pos), None, None, None, None, state.chains, rho,
                             state.fields, tuple(prime))

    def select(self, target: Target, state: LangevinState, p: int) -> LangevinState:
        """Phase p of a stacked target's state, as its observers read it: the position, ρ, U
        and the step's Gaussian law. ∇U and ρ′, which only the next step reads, are left out
        (None): slicing them for every phase and kept step costs kernels, not arithmetic."""
        def take(ts):
            return None if ts is None else tuple(None if t is None else t[p] for t in ts)

        free = target.energy._free_of
        rho = None if state.rho is None else [r[p] if j in free else r
                                              for j, r in enumerate(state.rho)]
        return LangevinState(take(state.position), None if state.potential is None else
                             state.potential[p], None, take(state.step_mean),
                             state.step_var, state.chains, rho, state.fields, None)


__all__ = ["MODES", "Langevin", "LangevinState", "check_continuous", "layer_grad", "potential"]

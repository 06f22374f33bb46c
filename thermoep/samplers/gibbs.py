"""Block Gibbs sampling over the energy's computed blocks.

Nothing inside a block interacts (:attr:`thermoep.Energy.blocks`: the even and odd layers of a
layered network, the checkerboard of a lattice), so one sweep draws every block in turn, all its
units at once, from their law given the rest (``Energy.conditional``): exact for binary, spin
and linear units, one Metropolis step with a Laplace proposal for tanh units
(:mod:`thermoep.samplers.conditionals`). The nudge enters the output layer's law through the
cost's separable quadratic form, b·ℓ = Σ_k b(½κ u_k² − λ_k u_k) + const (SquaredError:
κ = 1, λ = y), so for binary units

    p(s_{L,i} = 1 | rest) = σ((h_{L,i} − b(½ − y_i)) / T).

Where some unit's law is costly (tanh units: a mode to find), the block holding the output goes
first: a sweep then ends with the other block drawn given the final state of its neighbours, and
those laws (``state.laws``) are what conditional Rao–Blackwellisation averages, without finding
their modes again. Otherwise the blocks go in the energy's order.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from ..energies.model import State
from .base import Target, check_nudge
from .conditionals import Noise, draw
from .fields import Fields
from .monte_carlo import MonteCarloSampler


class GibbsState(NamedTuple):
    position: State
    laws: dict        # free layer → its law at the last update, for the last block's layers
    chains: int
    plan: _Plan | None = None
    rho: list | None = None  # ρ of every layer at ``position`` under ``plan.target``
    # whether ``position`` says where the units are (a warm start or a drawn state): the
    # energy's initial zeros are no start for a law's mode search (from 0 with a field of a few
    # units, Newton jumps between the ends of its bracket), so the first sweep from them starts
    # each law at its own default guess
    warm: bool = True
    burn_in: int = 0  # the phase's burn-in: draws before it may be approximate


class _Plan:
    """What every sweep of one phase reuses: the blocks in order with their masks, the fields
    (:class:`~thermoep.samplers.fields.Fields`), the unit scales and the output's quadratic
    nudge terms. Built once per phase: at a few chains a sweep is bound by Python per call."""

    def __init__(self, sampler, target: Target) -> None:
        energy = target.energy
        self.target, self.out = target, energy.output
        self.blocks = [tuple((p.layer, None if p.mask is None else
                              p.mask.reshape(energy.free_layers[p.layer].shape))
                             for p in block) for block in sampler.blocks(energy)]
        self.fields = Fields(energy, target.constant_fields())
        self.split = sorted({k for block in self.blocks for k, mask in block if mask is not None})
        self.units = energy.units
        self.scales = [energy.unit_scale(k) for k in range(energy.num_layers)]
        self.where = [energy._layer_of_free[k] for k in range(energy.num_layers)]
        self.quadratic = None
        if target.nudge != 0.0:
            kappa, lam = target.cost.quadratic_terms(target.y)
            self.quadratic = (target.nudge * kappa, target.nudge * lam)


class Gibbs(MonteCarloSampler):
    """Block Gibbs with ``chains`` chains per input; ``sweeps`` counts burn-in too. During
    burn-in, units without an exact sampler take approximate draws (the Laplace proposal).
    ``warm_sweeps`` / ``warm_burn_in``: the same for a phase started from another phase's
    state (default: ``sweeps`` / ``burn_in``)."""

    def __init__(self, sweeps: int = 30, burn_in: int = 10, temperature: float = 1.0,
                 chains: int = 4, thin: int = 1, coupled: bool = False,
                 warm_sweeps: int | None = None, warm_burn_in: int | None = None) -> None:
        super().__init__(steps=sweeps, burn_in=burn_in, temperature=temperature, chains=chains,
                         thin=thin, coupled=coupled, warm_steps=warm_sweeps,
                         warm_burn_in=warm_burn_in)

    @property
    def sweeps(self) -> int:
        return self.steps

    def __repr__(self) -> str:
        return (f"Gibbs(sweeps={self.steps}, burn_in={self.burn_in}, "
                f"temperature={self.temperature}, chains={self.chains}, thin={self.thin}, "
                f"coupled={self.coupled}{self._warm_repr('warm_sweeps')})")

    def blocks(self, energy):
        """The energy's blocks, the output's first where some law is costly (module
        docstring)."""
        if all(u.exact_law for u in energy.units):
            return energy.blocks
        return sorted(energy.blocks, key=lambda block: all(p.layer != energy.output
                                                           for p in block))

    def check(self, energy, cost) -> None:
        """Refuse what block Gibbs cannot draw exactly: a unit kind without a law, a term not
        linear in each unit given the rest, a cost the output's law cannot take."""
        for k in range(energy.num_layers):
            energy.check_conditional(k)
        cost.quadratic_terms(None)

    def init(self, target: Target, init: State | None = None, generator=None) -> GibbsState:
        energy, cost = target.energy, target.cost
        for k in range(energy.num_layers):
            energy.check_conditional(k)
        if target.nudge != 0.0:
            cost.quadratic_terms(target.y)  # raises for a cost the laws cannot take
        if not energy.discrete:
            check_nudge(energy, cost, target.nudge)
        return GibbsState(self.initial_state(target, init, generator), {}, self.chains,
                          _Plan(self, target), warm=init is not None,
                          burn_in=self.burn_in_for(init))

    def step(self, target: Target, state: GibbsState, t: int, generator=None):
        plan = state.plan
        rho = state.rho
        if plan is None or plan.target is not target:  # a state made for another target
            plan, rho = _Plan(self, target), None
        energy, T = target.energy, self.temperature
        exact = t >= state.burn_in
        s = list(state.position)
        # the last sweep's ρ, kept: recomputing it costs a transcendental per unit per sweep
        rho = energy.rhos(target.x, s) if rho is None else list(rho)
        accepted, laws = [], {}
        # a layer that several blocks update in parts draws its numbers once a sweep (Noise)
        shared = {k: Noise(generator, shared=True) for k in plan.split}
        for block in plan.blocks:
            laws, new = {}, []
            for k, mask in block:
                h = plan.fields(k, rho, s[k])
                if plan.scales[k] is not None:  # the law of a scaled unit: field a ⊙ h
                    h = h * plan.scales[k]
                curvature, linear = 0.0, 0.0
                if k == plan.out and plan.quadratic is not None:
                    curvature, lam = plan.quadratic
                    linear = lam.expand_as(s[k])
                law = plan.units[k].law(h, T, curvature, linear,
                                        start=s[k] if state.warm else None)
                value, acc = draw(law, s[k], shared.get(k) or Noise(generator), exact)
                if mask is not None:
                    value = torch.where(mask, value, s[k])
                else:
                    laws[k] = law
                if acc is not None:
                    accepted.append(acc.to(value.dtype).mean())
                new.append((k, value))
            for k, value in new:
                s[k] = value
                rho[plan.where[k]] = energy.rho(k, value)
        info = {"acceptance": torch.stack(accepted).mean()} if accepted else None
        return GibbsState(tuple(s), laws, state.chains, plan, rho, burn_in=state.burn_in), info


__all__ = ["Gibbs", "GibbsState"]

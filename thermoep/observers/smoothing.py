"""Rao–Blackwellisation: replace what an observer averages by its expectation given part of the
state, which keeps every expectation and removes that part's noise (the Rao–Blackwell theorem).

A smoother maps a kept state to the factors the gradient statistics are built from
(:class:`Smoothed`): ρ of every layer, the cost ℓ, and E[ρ_L ℓ] for the output layer.

* :func:`plain` — the state itself.
* :class:`ConditionalSmoother` — the layers R of the colour that does not hold the output (the
  hidden layers of the other parity in a layered network) are replaced by their exact
  conditional means E[ρ(s_r) | neighbours] (the layer's law, ``Energy.conditional``). No term
  couples two layers of R and ℓ reads s_L ∉ R, so for every product the estimators form,
  E_b[∂θE] and E_b[∂θE · ℓ], one factor per R layer is replaced by its conditional mean without
  bias. It needs samples that follow p_b (Gibbs, MALA; ULA carries its O(η) bias in full).
* :class:`StepSmoother` — unadjusted Langevin: the next state is s' ~ N(m, σ²I) given the current
  one, m = s − η∇U(s), σ² = 2ηT, independently per unit, so every factor is replaced by its
  expectation over that Gaussian: E[ρ(s'_l)] (Gauss–Hermite), E[ℓ(s'_L)] = ℓ(m) + ½κσ² per unit
  for a separable quadratic cost, and per output unit
  E[ρ_k ℓ] = E[ρ_k ℓ_k] + E[ρ_k] Σ_{j≠k} E[ℓ_j] (a 1-D Gaussian integral for the first term).
"""

from __future__ import annotations

import weakref
from typing import NamedTuple

import torch
from torch import Tensor


class Smoothed(NamedTuple):
    rho: list[Tensor]                 # ρ of every layer (the input as itself)
    cost: Tensor                      # ℓ (or its expectation) per position, [..., B]
    output_cost: Tensor | None = None  # E[ρ_L ℓ] per output unit; None: ρ_L · ℓ


def plain(target, state) -> Smoothed:
    """The state itself (ρ from the state where its sampler keeps it: ``state.rho``).

    The observers of one kept state call this one after the other with the same ``target`` and
    ``state`` objects; the last answer is kept for them in the batch's ``target.cache``, so its
    cost is computed once, not once per observer (a sampler that updates its state's tensors in
    place bumps their versions, which the key holds; it lives as long as the batch's targets)."""
    s = state.position
    versions = _versions(s)
    cache = getattr(target, "cache", None)
    last = None if cache is None or versions is None else cache.get("plain")
    if last is not None and last[0]() is target and last[1] is state and last[2] == versions:
        return last[3]
    energy = target.energy
    rho = getattr(state, "rho", None)
    rho = energy.rhos(target.x, s) if rho is None else list(rho)
    out = Smoothed(rho, target.cost.value(s[energy.output], target.y))
    if cache is not None and versions is not None:
        # the target by weak reference: the batch's targets share the cache, which must not
        # keep any of them alive
        cache["plain"] = (weakref.ref(target), state, versions, out)
    return out


def _versions(position) -> tuple[int, ...] | None:
    """The version counters of a state's tensors, or None where they keep none (tensors made
    under ``torch.inference_mode``: then nothing is kept)."""
    try:
        return tuple(t._version for t in position)
    except RuntimeError:
        return None


class ConditionalSmoother:
    """Conditional Rao–Blackwellisation over the units of the layers without the output's
    colour (module docstring)."""

    name = "conditional"
    #: ℓ reads the output layer, which this smoother leaves as drawn: an observer of the cost
    #: alone gains nothing from it (and would pay for every averaged layer's law)
    smooths_cost = False

    def check_sampler(self, sampler) -> None:
        pass

    def layers(self, energy) -> tuple[int, ...]:
        blocks = energy.layer_blocks
        if len(blocks) != 2:
            raise TypeError("conditional Rao–Blackwellisation needs a layer graph with two "
                            f"colours (a layered network); this energy has {len(blocks)}")
        averaged = next(b for b in blocks if energy.output not in b)
        for k in averaged:
            if any(part.mask is not None for block in energy.blocks for part in block
                   if part.layer == k):
                raise TypeError(f"conditional Rao–Blackwellisation averages whole layers; layer "
                                f"{energy.free_layers[k].name!r} has couplings within it")
            energy.check_conditional(k)
        return averaged

    def check(self, energy, cost) -> None:
        self.layers(energy)

    def __call__(self, target, state) -> Smoothed:
        energy, x, s = target.energy, target.x, state.position
        rho = getattr(state, "rho", None)  # block Gibbs keeps ρ of its last sweep
        rho = energy.rhos(x, s) if rho is None else list(rho)
        laws = getattr(state, "laws", None) or {}
        constant = target.constant_fields()
        for k in self.layers(energy):
            law = laws.get(k)
            if law is None:
                law = energy.conditional(x, s, k, target.temperature, rho=rho, constant=constant)
            mean = law.mean()
            a = energy.unit_scale(k)
            rho[energy._layer_of_free[k]] = mean if a is None else mean * a
        return Smoothed(rho, target.cost.value(s[energy.output], target.y))


class StepSmoother:
    """Rao–Blackwellisation over the Gaussian noise of an unadjusted Langevin step (module
    docstring); needs smooth units and a separable quadratic cost (SquaredError)."""

    name = "step"
    smooths_cost = True

    def check_sampler(self, sampler) -> None:
        if not getattr(sampler, "gaussian_steps", False):
            raise ValueError(
                f"rao_blackwell='step' needs a sampler whose next state is Gaussian given the "
                f"current one, independently per unit (unadjusted Langevin, ULA, in jacobi "
                f"mode), got {sampler!r}: after a Metropolis test the next state is not "
                "Gaussian, and in blocks mode a block's mean depends on the draws before it")

    def check(self, energy, cost) -> None:
        for layer in energy.free_layers:
            if not layer.unit.smooth:
                layer.unit.gaussian_mean(torch.zeros(0), 1e-3)  # raises its explanation
        cost.quadratic_terms(None)  # raises for a cost that is not

    def __call__(self, target, state) -> Smoothed:
        mean, var = getattr(state, "step_mean", None), getattr(state, "step_var", None)
        if mean is None:
            raise TypeError("rao_blackwell='step' needs a sampler whose state carries the "
                            "Gaussian law of its last step (unadjusted Langevin, ULA)")
        energy, y = target.energy, target.y
        free = []
        for k, (m, layer) in enumerate(zip(mean, energy.free_layers, strict=True)):
            r = layer.unit.gaussian_mean(m, var)
            a = energy.unit_scale(k)
            free.append(r if a is None else r * a)
        L = energy.output
        curv, lin = target.cost.quadratic_terms(y)
        m_out = mean[L]
        unit_cost = target.cost.unit_values(m_out, y) + 0.5 * curv * var  # E[ℓ_k(s'_k)]
        ell = unit_cost.sum(-1)
        own = energy.free_layers[L].unit.gaussian_mean(
            m_out, var, lambda u: target.cost.unit_values(u, y))
        a = energy.unit_scale(L)
        own = own if a is None else own * a
        output_cost = own + free[L] * (ell.unsqueeze(-1) - unit_cost)
        return Smoothed(energy.with_free(target.x, free), ell, output_cost)


SMOOTHERS = {"conditional": ConditionalSmoother, "step": StepSmoother}


def smoother(spec):
    """None, a name from :data:`SMOOTHERS`, or a smoother object."""
    if spec is None or callable(spec):
        return spec
    if spec not in SMOOTHERS:
        raise ValueError(f"unknown Rao–Blackwellisation {spec!r}; choose one of "
                         f"{sorted(SMOOTHERS)} or None")
    return SMOOTHERS[spec]()


__all__ = ["SMOOTHERS", "ConditionalSmoother", "Smoothed", "StepSmoother", "plain", "smoother"]

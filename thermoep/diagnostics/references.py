"""The reference gradients the diagnostics compare estimates with (docs/design.md §1).

* :func:`supervised_gradient` — ∇θ of the supervised loss, "∇L_sup" of seed ep-without-limits
  Fig. 1A. Continuous units: ∇θ ℓ(s*_0, y) at the free fixed point by implicit differentiation
  (``te.implicit_grad``; = BPTT through a converged relaxation). Binary units with exact
  enumeration: ∇θ E_{p_0}[ℓ], the β → 0 limit of ∇L_β (L_β = J_β/β → E_{p_0}[ℓ]), by autograd
  through ``te.exact.expected_cost``.
* :func:`target_gradient` — the gradient each estimator estimates without bias, "∇J_β" of Fig. 1A
  (up to the factor β, which a cosine ignores). Every estimator is a stencil ĝ = Σ_k c_k G(b_k)
  in G(b) = E_{p_b}[∂θE] (objectives/base.py), so for enumerable binary models its exact target is
  Σ_k c_k E_{p_{b_k}}[∂θE]: ∇L_β for one-sided/finite-nudge (Thm 3.1), ∇(J_β − J_{−β})/(2β) for
  centered; the path integral targets ∇L_β (Thm 3.4). Otherwise the target is estimated by
  :func:`high_budget` copies of the same estimator, with its Monte-Carlo standard error.
"""

from __future__ import annotations

import copy
import math

import torch

from .. import _checks
from ..gradient import Gradient
from ..objectives.references import implicit_grad
from ..samplers import exact
from ..samplers.base import prepare

__all__ = ["exact_available", "high_budget", "se_norm", "supervised_gradient", "target_gradient"]


def exact_available(energy) -> bool:
    """True for binary models small enough to enumerate (≤ ``exact.MAX_UNITS`` free units)."""
    return bool(energy.discrete) and energy.num_free_units <= exact.MAX_UNITS


def se_norm(g: Gradient) -> float:
    """‖standard error‖ over every parameter entry (0 for a deterministic estimate)."""
    se = g.stats.get("se")
    if not se:
        return 0.0
    return float(torch.cat([v.reshape(-1) for v in se.values()]).norm())


def supervised_gradient(energy, cost, x, y, *, temperature: float = 0.0,
                        relaxation=None) -> Gradient:
    """∇θ of the supervised loss (batch mean): implicit ∇ℓ(s*_0) or exact ∇E_{p_0}[ℓ]."""
    if not energy.discrete:
        return implicit_grad(energy, cost, x, y, relaxation)
    if not exact_available(energy):
        raise ValueError(
            f"the supervised reference of a binary model needs exact enumeration (at most "
            f"{exact.MAX_UNITS} free units); this model has {energy.num_free_units}"
        )
    T = _checks.positive_float("temperature", temperature)
    x, y = prepare(energy, cost, x, y)
    params = dict(energy.named_parameters())
    with torch.enable_grad():
        loss = exact.expected_cost(energy, cost, x, y, 0.0, T).mean()
        grads = torch.autograd.grad(loss, list(params.values()), allow_unused=True)
    out = {k: torch.zeros_like(v) if g is None else g.detach()
           for (k, v), g in zip(params.items(), grads, strict=True)}
    return Gradient(out, 0, {"method": "exact ∇E_p0[ℓ]", "temperature": T},
                    loss=float(loss.detach()))


def high_budget(sampler, budget: int):
    """A copy of ``sampler`` with ``budget`` times the work and the least variance.

    Monte-Carlo samplers: ``budget``× the chains, with common random numbers (``coupled=True``):
    the same unbiased estimate of ∇L_β as independent chains (each phase's law is unchanged) but
    without the 1/β blow-up of the noise. Relaxation: ``budget``× the steps.
    """
    budget = _checks.positive_int("budget", budget)
    ref = copy.copy(sampler)
    if getattr(sampler, "deterministic", False):
        ref.steps = sampler.steps * budget
        ref.nudged_steps = sampler.nudged_steps * budget
    else:
        ref.chains = sampler.chains * budget
        ref.coupled = True
    return ref


def target_gradient(estimator, energy, cost, x, y, *, budget: int = 8,
                    generator: torch.Generator | None = None) -> Gradient:
    """The quantity ``estimator`` estimates: exact for enumerable binary models, else a
    ``budget``× estimate of the same estimator (``stats["se"]`` holds its standard error)."""
    if energy.discrete and exact_available(energy):
        # every estimator's stencil Σ c_k E_{b_k}[∂θE], by enumeration; the path integral's is
        # the finite-nudge identity ∇L_β = (E_β[∂θE] − E_0[∂θE])/β, its covariance integral's
        # value (Thm 3.4)
        T = float(estimator.temperature)
        total: dict[str, torch.Tensor] = {}
        for b, c in estimator.stencil():
            G = exact.expected_param_grad(energy, cost, x, y, b, T)
            for k, v in G.items():
                total[k] = total.get(k, 0.0) + c * v
        return Gradient(total, 0, {"method": "exact stencil", "temperature": T})
    ref = copy.copy(estimator)
    ref.sampler = high_budget(estimator.sampler, budget)
    g = ref(energy, cost, x, y, generator=generator)
    g.stats["method"] = f"{budget}x budget"
    return g


def relative(a: float, b: float) -> float:
    return a / b if b > 0 else math.nan

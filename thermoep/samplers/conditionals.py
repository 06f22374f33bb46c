"""Draws from the law of one unit given the rest (``thermoep.energies.laws``), keyed by the law's
kind: the per-block conditional samplers of block Gibbs.

* two-valued units (binary, spin): exact Bernoulli draws;
* linear units: exact Gaussian draws;
* tanh units (no closed-form sampler): one Metropolis–Hastings step with the unit's Laplace
  approximation as independence proposal, u' ~ N(u*, T/φ''(u*)), accepted with probability
  min(1, exp(−(r(u') − r(u))/T)), r(v) = φ(v) − ½φ''(u*)(v − u*)²: the exact conditional is
  invariant, and at small T the proposal is nearly exact (acceptance → 1). With ``exact=False``
  the proposal is returned as it is (an approximate Gibbs draw, for burn-in sweeps: from a state
  many widths away from the mode the exact kernel is sticky).

Each returns (new values, accepted or None).
"""

from __future__ import annotations

import functools
import math

import torch

from ..energies.laws import BernoulliLaw, GaussianLaw, TanhLaw


def _uniform(like, generator):
    return torch.rand(like.shape, generator=generator, dtype=like.dtype, device=like.device)


def _normal(like, generator):
    return torch.randn(like.shape, generator=generator, dtype=like.dtype, device=like.device)


#: below this many units one torch.bernoulli call (one kernel) is fastest; above it, a uniform
#: draw and a comparison (CPU bernoulli draws element by element, ≈ 2.7× slower per unit)
BERNOULLI_KERNEL_MAX = 1024


def draw_two_valued(law: BernoulliLaw, current, generator, exact=True):
    p = law.probability
    if p.numel() <= BERNOULLI_KERNEL_MAX:
        bits = torch.bernoulli(p, generator=generator)  # 1 where the unit is high
        if (law.low, law.high) == (0.0, 1.0):
            return bits, None
        # (torch.where with two numbers is ≈ 4× slower than these in-place ops on CPU)
        return bits.mul_(law.high - law.low).add_(law.low), None
    # u < p: the unit is high. Both forms below are one comparison-like kernel on the
    # difference, not a bool tensor and a conversion (a comparison, a cast and the affine map
    # cost ≈ 4× as much at 4096 units)
    d = p.sub_(_uniform(p, generator))          # p is a fresh tensor: σ(logit)
    if (law.low, law.high) == (0.0, 1.0):
        return d.gt_(0.0), None                    # 1.0 where u < p, in p's dtype
    if (law.low, law.high) == (-1.0, 1.0):
        # ±1 with the sign of p − u (u = p, probability ≤ 2⁻²⁴ in float32, gives +1: the
        # same order as rand's own resolution)
        return torch.copysign(_one(d), d), None
    return d.gt_(0.0).mul_(law.high - law.low).add_(law.low), None


def _one(like):
    return _ONES(like.dtype, like.device)


#: 0-d ones per (dtype, device): made once, not at every draw (a kernel at one chain)
_ONES = functools.lru_cache(maxsize=None)(lambda dtype, device: torch.ones((), dtype=dtype,
                                                                           device=device))


def draw_gaussian(law: GaussianLaw, current, generator, exact=True):
    sd = torch.as_tensor(law.var, dtype=law.loc.dtype, device=law.loc.device).sqrt()
    return law.loc + sd * _normal(law.loc, generator), None


def draw_laplace_metropolis(law: TanhLaw, current, generator, exact=True):
    T, kappa = law.temperature, law.kappa
    u, curv = law.laplace()
    curv = curv.clamp_min(1e-3 * kappa)  # only the proposal's width: any width stays exact
    d = _normal(u, generator).mul_(torch.rsqrt(curv)).mul_(math.sqrt(T))
    prop = u + d
    if not exact:
        return prop, None
    delta = law.residual_difference(prop, current, curv)
    accept = _uniform(u, generator).log_() < delta.mul_(-1.0 / T)
    return torch.where(accept, prop, current), accept


CONDITIONAL_SAMPLERS = {BernoulliLaw: draw_two_valued, GaussianLaw: draw_gaussian,
                        TanhLaw: draw_laplace_metropolis}


def draw(law, current, generator, exact: bool = True):
    """A draw from ``law`` (one Metropolis step where the law has no exact sampler)."""
    fn = CONDITIONAL_SAMPLERS.get(type(law))
    if fn is None:
        raise TypeError(f"no conditional sampler for {type(law).__name__}; register one in "
                        "thermoep.samplers.conditionals.CONDITIONAL_SAMPLERS")
    return fn(law, current, generator, exact)


__all__ = ["CONDITIONAL_SAMPLERS", "draw"]

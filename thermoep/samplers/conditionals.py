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

Each takes the law, the units' current values, a :class:`Noise` (where its random numbers come
from) and ``exact``, and returns (new values, accepted or None).
"""

from __future__ import annotations

import functools
import math

import torch

from ..energies.laws import BernoulliLaw, GaussianLaw, TanhLaw


class Noise:
    """The random numbers of one update of a layer's units, from ``generator``.

    With ``shared``, each kind (uniform, normal) is drawn once and every later request returns
    the same numbers: block Gibbs makes one such object per sweep for a layer that several
    blocks update in parts (the two colours of a lattice). Each unit is updated once a sweep
    and reads only its own entries, so the parts' draws stay independent, at one random-number
    kernel a sweep instead of one a block. The numbers are read-only: samplers must not modify
    them in place.
    """

    __slots__ = ("generator", "shared", "_drawn")

    def __init__(self, generator=None, shared: bool = False) -> None:
        self.generator, self.shared, self._drawn = generator, shared, {}

    def uniform(self, like: torch.Tensor) -> torch.Tensor:
        """U(0, 1) numbers shaped like ``like``."""
        return self._draw(torch.rand, like)

    def normal(self, like: torch.Tensor) -> torch.Tensor:
        """N(0, 1) numbers shaped like ``like``."""
        return self._draw(torch.randn, like)

    def _draw(self, fn, like):
        if self.shared:
            drawn = self._drawn.get(fn)
            if drawn is not None and drawn.shape == like.shape:
                return drawn
        drawn = fn(like.shape, generator=self.generator, dtype=like.dtype, device=like.device)
        if self.shared:
            self._drawn[fn] = drawn
        return drawn


#: below this many units one torch.bernoulli call (one kernel) is fastest; above it, a uniform
#: draw and a comparison (CPU bernoulli draws element by element, ≈ 2.7× slower per unit)
BERNOULLI_KERNEL_MAX = 1024


def draw_two_valued(law: BernoulliLaw, current, noise: Noise, exact=True):
    p = law.probability
    if p.numel() <= BERNOULLI_KERNEL_MAX and not noise.shared:
        bits = torch.bernoulli(p, generator=noise.generator)  # 1 where the unit is high
        if (law.low, law.high) == (0.0, 1.0):
            return bits, None
        # (torch.where with two numbers is ≈ 4× slower than these in-place ops on CPU)
        return bits.mul_(law.high - law.low).add_(law.low), None
    # u < p: the unit is high. Both forms below are one comparison-like kernel on the
    # difference, not a bool tensor and a conversion (a comparison, a cast and the affine map
    # cost ≈ 4× as much at 4096 units)
    d = p.sub_(noise.uniform(p))                # p is a fresh tensor: σ(logit)
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


def draw_gaussian(law: GaussianLaw, current, noise: Noise, exact=True):
    sd = torch.as_tensor(law.var, dtype=law.loc.dtype, device=law.loc.device).sqrt()
    return law.loc + sd * noise.normal(law.loc), None


def draw_laplace_metropolis(law: TanhLaw, current, noise: Noise, exact=True):
    T, kappa = law.temperature, law.kappa
    u, curv = law.laplace()
    curv = curv.clamp_min(1e-3 * kappa)  # only the proposal's width: any width stays exact
    # on the fresh rsqrt, so shared normals stay untouched
    prop = u + torch.rsqrt(curv).mul_(noise.normal(u)).mul_(math.sqrt(T))
    if not exact:
        return prop, None
    delta = law.residual_difference(prop, current, curv)
    v = noise.uniform(u)
    accept = (v.log() if noise.shared else v.log_()) < delta.mul_(-1.0 / T)
    return torch.where(accept, prop, current), accept


CONDITIONAL_SAMPLERS = {BernoulliLaw: draw_two_valued, GaussianLaw: draw_gaussian,
                        TanhLaw: draw_laplace_metropolis}


def draw(law, current, noise: Noise, exact: bool = True):
    """A draw from ``law`` (one Metropolis step where the law has no exact sampler), its random
    numbers from ``noise``."""
    fn = CONDITIONAL_SAMPLERS.get(type(law))
    if fn is None:
        raise TypeError(f"no conditional sampler for {type(law).__name__}; register one in "
                        "thermoep.samplers.conditionals.CONDITIONAL_SAMPLERS")
    return fn(law, current, noise, exact)


__all__ = ["CONDITIONAL_SAMPLERS", "Noise", "draw"]

"""Holomorphic EP (Laborieux & Zenke 2022): the nudge on a circle in the complex plane.

For holomorphic units the free energy's gradient G(b) = ∂θE(s*_b) is an analytic function of
the nudge, and with N nudges b_k = β ωᵏ on a circle (ω = e^{2πi/N})

    ĝ = (1/(Nβ)) Σ_k ω^{−k} G(β ωᵏ) = Σ_{n ≡ 1 (mod N)} G⁽ⁿ⁾(0) βⁿ⁻¹ / n!
      = G′(0) + G⁽ᴺ⁺¹⁾(0) βᴺ / (N+1)! + …,

the first Fourier coefficient of G on the circle: its bias is O(βᴺ), so the estimate is exact as
N grows (geometrically in N for β inside G's radius of convergence). N = 2 is centered EP. The
relaxation runs on complex states for the nudges off the real axis (tanh, sigmoid4 and linear
units; hard-sigmoid and binary units are refused), warm-started from the free fixed point.
"""

from __future__ import annotations

import cmath

from .. import _checks
from ..samplers.relax import check_holomorphic
from .base import Estimator


class HolomorphicEP(Estimator):
    """N nudges β·e^{2πik/N} and the first Fourier coefficient of G(b); N nudged phases."""

    name = "holomorphic"

    def __init__(self, sampler=None, beta: float = 0.2, *, points: int = 4,
                 beta_schedule=None) -> None:
        super().__init__(sampler, beta, beta_schedule=beta_schedule)
        self.points = _checks.positive_int("points", points, minimum=2)
        if not self.deterministic:
            raise TypeError("holomorphic EP continues the deterministic fixed point to complex "
                            f"nudges; it needs the relaxation (T = 0), got "
                            f"{type(self.sampler).__name__}")

    def __repr__(self) -> str:
        return (f"HolomorphicEP(sampler={self.sampler!r}, beta={self.beta}, "
                f"points={self.points})")

    def stencil(self):
        b, n = abs(self.beta), self.points
        out = []
        for k in range(n):
            w = cmath.exp(2j * cmath.pi * k / n)
            nudge = b if k == 0 else (-b if 2 * k == n else b * w)
            out.append((nudge, (1.0 / w) / (n * b)))
        return out

    def check(self, energy, cost) -> None:
        super().check(energy, cost)
        check_holomorphic(energy, "holomorphic EP")

    def _combine(self, phases, free):
        g = super()._combine(phases, free)
        g.grads = {k: (v.real if v.is_complex() else v).contiguous() for k, v in g.grads.items()}
        return g


__all__ = ["HolomorphicEP"]

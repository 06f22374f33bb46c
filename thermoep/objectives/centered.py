"""Centered estimator (Laborieux et al. 2021; seed hybrid-ep eq. 8):

    ĝ = (G(β) − G(−β)) / (2β),   bias O(β²) (eq. 10); two nudged phases.

At T > 0 it is the exact gradient of (J_β − J_{−β})/(2β) (Thm 3.1 applied at ±β).
"""

from __future__ import annotations

from .base import Estimator


class Centered(Estimator):
    """(G(β) − G(−β)) / (2β), both nudged phases warm-started from the free phase."""

    name = "centered"

    def __init__(self, sampler=None, beta: float = 0.2, *, beta_schedule=None,
                 rao_blackwell: str | None = None) -> None:
        super().__init__(sampler, beta, beta_schedule=beta_schedule, rao_blackwell=rao_blackwell)

    def stencil(self):
        b = abs(self.beta)
        return [(-b, -0.5 / b), (b, 0.5 / b)]

"""Higher-order anchor: the five-point central stencil in the nudge b,

    ĝ = (−G(2β) + 8 G(β) − 8 G(−β) + G(−2β)) / (12β) = G'(0) − (β⁴/30) G⁽⁵⁾(0) + O(β⁶),

so its bias is O(β⁴) (against O(β) for one-sided and O(β²) for centered, seed hybrid-ep eqs.
7 and 10), for four nudged phases. Usable alone and as the accurate end of a hybrid.
"""

from __future__ import annotations

from .base import Estimator


class HigherOrder(Estimator):
    """Five-point stencil at ±β, ±2β; bias O(β⁴); four nudged phases."""

    name = "higher-order"

    def __init__(self, sampler=None, beta: float = 0.2, *, beta_schedule=None,
                 rao_blackwell: str | None = None) -> None:
        super().__init__(sampler, beta, beta_schedule=beta_schedule, rao_blackwell=rao_blackwell)

    def stencil(self):
        b = abs(self.beta)
        c = 1.0 / (12.0 * b)
        # nudges in increasing |b| so each warm start is close to the state it starts from
        return [(b, 8 * c), (-b, -8 * c), (2 * b, -c), (-2 * b, c)]

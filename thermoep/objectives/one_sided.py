"""One-sided estimators: ĝ = (G(β) − G(0)) / β with G(b) = E_{p_b}[∂θE].

* ``FiniteNudge`` — seed ep-without-limits Thm 3.1: at temperature T > 0 the contrast is the
  *exact* gradient of L_β = J_β/β for every finite β (J_β = F_β − F_0).
* ``OneSided`` — the same stencil in its deterministic reading (seed hybrid-ep eq. 4): β > 0 is
  P-EP ("standard" EP), β < 0 is N-EP; bias O(β) against ∇ℓ(s*_0) (eq. 7).

With ``Relaxation`` (T = 0) both are classic EP; with a Monte-Carlo sampler both are Thm 3.1.
"""

from __future__ import annotations

from ..schedules import RandomSign
from .base import Estimator


class OneSided(Estimator):
    """(G(β) − G(0))/β: P-EP for β > 0, N-EP for β < 0. One nudged phase."""

    name = "one-sided"

    def __init__(self, sampler=None, beta: float = 0.2, *, beta_schedule=None,
                 rao_blackwell: str | None = None) -> None:
        super().__init__(sampler, beta, beta_schedule=beta_schedule, rao_blackwell=rao_blackwell)

    def stencil(self):
        return [(0.0, -1.0 / self.beta), (self.beta, 1.0 / self.beta)]


class NegativeOneSided(OneSided):
    """N-EP: the one-sided stencil at −|β| (seed ebl-algorithms-comparative-study)."""

    name = "negative"

    def __init__(self, sampler=None, beta: float = 0.2, *, beta_schedule=None,
                 rao_blackwell: str | None = None) -> None:
        super().__init__(sampler, -abs(beta), beta_schedule=beta_schedule,
                         rao_blackwell=rao_blackwell)


class RandomSignOneSided(OneSided):
    """One-sided with the sign of β drawn per batch (Laborieux et al. 2021): the expectation
    over the sign is the centered estimator."""

    name = "one-sided-random-sign"

    def __init__(self, sampler=None, beta: float = 0.2, *,
                 rao_blackwell: str | None = None) -> None:
        super().__init__(sampler, beta, beta_schedule=RandomSign(beta),
                         rao_blackwell=rao_blackwell)


class FiniteNudge(OneSided):
    """Thm 3.1: ∇θ J_β = E_{p_β}[∂θE] − E_{p_0}[∂θE], returned divided by β (∇L_β)."""

    name = "finite-nudge"
    stochastic = True

    def __init__(self, sampler=None, beta: float = 1.0, *, beta_schedule=None,
                 rao_blackwell: str | None = None) -> None:
        super().__init__(sampler, beta, beta_schedule=beta_schedule, rao_blackwell=rao_blackwell)

"""One-sided estimators: ĝ = (G(β) − G(0)) / β with G(b) = E_{p_b}[∂θE].

* ``FiniteNudge`` — seed ep-without-limits Thm 3.1: at temperature T > 0 the contrast is the
  *exact* gradient of L_β = J_β/β for every finite β (J_β = F_β − F_0).
* ``OneSided`` — the same stencil in its deterministic reading (seed hybrid-ep eq. 4): β > 0 is
  P-EP ("standard" EP), β < 0 is N-EP; bias O(β) against ∇ℓ(s*_0) (eq. 7).

With ``Relaxation`` (T = 0) both are classic EP; with a Monte-Carlo sampler both are Thm 3.1.
"""

from __future__ import annotations

import torch
from torch.nn.utils import parametrize

from .. import _checks
from ..schedules import RandomSign
from .base import Estimator, gauss_lobatto


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
    """Thm 3.1: ∇θ J_β = E_{p_β}[∂θE] − E_{p_0}[∂θE], returned divided by β (∇L_β).

    ``objective_nodes`` (default 0: off): also estimate the objective itself,
    J_β = F_β − F_0 = ∫₀^β E_{p_b}[ℓ] db (Lemma 3.3), by the Gauss–Lobatto rule on [0, β] with
    ``objective_nodes`` interior nodes. Lobatto's endpoints are b = 0 and b = β, whose E_b[ℓ]
    the free and the nudged phase have measured already (their cost traces), so the n interior
    nodes cost n extra phases (each observing the cost alone, warm-started from the free phase)
    and the rule is exact for E_b[ℓ] polynomial of degree ≤ 2n + 1 — two degrees more than
    Gauss–Legendre with the same n extra phases, which cannot use the endpoints.
    ``stats["objective"]`` (batch mean of J_β) and ``stats["objective_se"]`` (its standard
    error over the chains, which are independent replicates across all phases) hold it;
    ``nudged_phases`` counts the extra phases. The gradient is unchanged: the extra phases run
    after the stencil's.
    """

    name = "finite-nudge"
    stochastic = True

    def __init__(self, sampler=None, beta: float = 1.0, *, beta_schedule=None,
                 rao_blackwell: str | None = None, objective_nodes: int = 0) -> None:
        super().__init__(sampler, beta, beta_schedule=beta_schedule, rao_blackwell=rao_blackwell)
        self.objective_nodes = _checks.positive_int("objective_nodes", objective_nodes,
                                                    minimum=0)

    def __repr__(self) -> str:
        extra = f", objective_nodes={self.objective_nodes}" if self.objective_nodes else ""
        return super().__repr__()[:-1] + extra + ")"

    def objective_rule(self):
        if not self.objective_nodes:
            return None
        rule = gauss_lobatto(self.beta, self.objective_nodes)
        # the endpoints exactly at the stencil's nudges (the phases are keyed by b)
        return [(0.0, rule[0][1]), *rule[1:-1], (self.beta, rule[-1][1])]

    def nudges(self) -> list[float]:
        return [b for b, _ in (self.objective_rule() or self.stencil())]

    def __call__(self, energy, cost, x, y, *, generator: torch.Generator | None = None):
        if not self.objective_nodes:
            return super().__call__(energy, cost, x, y, generator=generator)
        target = self._target(energy, cost, x, y)
        self._draw_sign()
        stencil = [b for b, _ in self.stencil()]
        extra = [b for b, _ in self.objective_rule() if b not in stencil]
        with parametrize.cached():
            free, phases = self._phases(target, stencil, generator, cost_only=extra)
        g = self._combine(phases, free)
        g.nudged_phases += len(extra)
        return g

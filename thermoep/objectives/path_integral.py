"""Path-integral estimator, seed ep-without-limits Thm 3.4:

    ∇θ J_β = −(1/T) ∫₀^β Cov_{p_b}(∂θE, ℓ) db,

by n-point Gauss–Legendre quadrature in b (exact for polynomial integrands of degree 2n − 1).
At each node the covariance is estimated without bias by leave-one-out cross-chain centring
(:class:`~thermoep.observers.CovarianceWithCost`): E[g_c (ℓ_c − ℓ̄_{−c})] = Cov(g, ℓ) because
the other chains are independent of chain c. Nodes run in increasing |b|, each warm-started
from the previous one (with a ``coupled`` sampler, each restarts from the free phase's start and
random stream).
The estimate is returned divided by β (∇L_β, docs/design.md §1).

The same nodes give the objective itself at no extra sampling (Lemma 3.3, dF_b/db = E_{p_b}[ℓ]):

    J_β = F_β − F_0 = ∫₀^β E_{p_b}[ℓ] db ≈ Σ_k w_k E_{b_k}[ℓ],

from each node's cost trace per chain; ``stats["objective"]`` is the batch mean of J_β and
``stats["objective_se"]`` its standard error over the chains
(:func:`~thermoep.objectives.base.objective_estimate`). The quadrature is exact when E_{p_b}[ℓ]
is a polynomial of degree ≤ 2·nodes − 1 in b; E_{p_b}[ℓ] is smooth and decreasing in b
(dE_b[ℓ]/db = −Var_b(ℓ)/T), so a few nodes leave a quadrature error far below the Monte-Carlo
error on the models the tests enumerate.

At T = 0 (``Relaxation``) the integrand −Cov_b/T becomes dG/db, whose integral is G(β) − G(0):
the estimator reduces to one-sided EP and costs one nudged phase.
"""

from __future__ import annotations

import torch
from torch.nn.utils import parametrize

from .. import _checks
from .base import Estimator, gauss_legendre, standard_error


class PathIntegral(Estimator):
    """Thm 3.4 with ``nodes`` Gauss–Legendre nodes on [0, β]; needs chains ≥ 2 when T > 0."""

    name = "path-integral"
    stochastic = True

    def __init__(self, sampler=None, beta: float = 1.0, nodes: int = 4, *,
                 beta_schedule=None, rao_blackwell: str | None = None) -> None:
        super().__init__(sampler, beta, beta_schedule=beta_schedule, rao_blackwell=rao_blackwell)
        self.nodes = _checks.positive_int("nodes", nodes)

    def __repr__(self) -> str:
        return f"PathIntegral(sampler={self.sampler!r}, beta={self.beta}, nodes={self.nodes})"

    def quadrature(self) -> list[tuple[float, float]]:
        """[(b_k, w_k)] Gauss–Legendre on [0, β] (weights sum to β)."""
        return gauss_legendre(self.beta, self.nodes)

    def objective_rule(self):
        """The Gauss–Legendre nodes of the gradient also integrate E_{p_b}[ℓ] (T > 0)."""
        return None if self.deterministic else self.quadrature()

    def stencil(self):
        # Only used for the deterministic reduction (T = 0).
        return [(0.0, -1.0 / self.beta), (self.beta, 1.0 / self.beta)]

    def __call__(self, energy, cost, x, y, *, generator: torch.Generator | None = None):
        if self.deterministic:
            return super().__call__(energy, cost, x, y, generator=generator)
        target = self._target(energy, cost, x, y)
        if self.sampler.chains < 2:
            raise ValueError(f"PathIntegral needs a sampler with chains >= 2 (got "
                             f"{self.sampler.chains}) to estimate covariances without bias")
        T = self.temperature
        nodes = sorted(self.quadrature(), key=lambda bw: abs(bw[0]))
        with parametrize.cached():
            free, phases = self._phases(target, [b for b, _ in nodes], generator,
                                        covariance=True)
        reps = None
        for b, w in nodes:
            cov = phases[b]["covariance"].chains
            term = {k: (-w / (T * self.beta)) * v for k, v in cov.items()}
            reps = term if reps is None else {k: reps[k] + term[k] for k in reps}
        stats = self._phase_stats(phases)
        stats["se"] = standard_error(reps)
        stats["nodes"] = self.nodes
        grads = {k: v.mean(0) for k, v in reps.items()}
        return self._gradient(grads, self.nodes, stats, free, phases)

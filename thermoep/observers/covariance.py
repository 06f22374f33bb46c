"""Cov_b(∂θE, ℓ): the integrand of the path-integral estimator (ep-without-limits Thm 3.4),
estimated without bias per chain.

For chain c, with ℓ̄_{−c} the mean cost of every *other* chain over all its kept states (per
input), the estimate is the mean over kept states and inputs of ∂θE(s_{c,t}) (ℓ_{c,t} − ℓ̄_{−c}).
The other chains are independent of chain c, so E[g_{c,t} (ℓ_{c,t} − ℓ̄_{−c})] = Cov(g, ℓ);
centring on all their states (not only those of the same step) keeps the centring's own noise a
factor ≈ the number of states smaller. The kept states are stored and the weighted gradient is
taken once, at the end of the phase: summed over chains for the mean, per chain only when a
standard error reads the replicates.
"""

from __future__ import annotations

import torch

from .base import Lazy, Observer, PerChain
from .smoothing import plain


class CovarianceWithCost(Observer):
    """Per-chain unbiased estimates of the batch mean of Cov_b(∂θE, ℓ) (needs ≥ 2 chains)."""

    def __init__(self, smoother=None, *, name: str = "covariance") -> None:
        self.smoother, self.name = smoother, name

    def start(self, target, state, chains):
        super().start(target, state, chains)
        if chains is None or chains < 2:
            raise ValueError(f"the covariance estimator needs chains >= 2, got {chains or 1}")
        if self.smoother is not None:
            self.smoother.check(target.energy, target.cost)
        self.kept = []

    def update(self, target, state):
        sm = (self.smoother or plain)(target, state)
        energy = target.energy
        free = [sm.rho[energy._layer_of_free[k]] for k in range(energy.num_layers)]
        self.kept.append((free, sm.cost, sm.output_cost))

    def finish(self, target):
        energy, L = target.energy, target.energy.output
        n, B = len(self.kept), target.batch
        ell = torch.stack([k[1] for k in self.kept], 1)                    # [C, n, B]
        C = ell.shape[0]
        total = ell.sum(1)
        base = ((total.sum(0, keepdim=True) - total) / ((C - 1) * n)).unsqueeze(1)  # [C, 1, B]
        free = [torch.stack([k[0][i] for k in self.kept], 1) for i in range(energy.num_layers)]
        weighted = None
        if self.kept[0][2] is not None:  # E[ρ_L ℓ] from the smoother, centred on the baseline
            out_cost = torch.stack([k[2] for k in self.kept], 1)
            nd = energy.free_layers[L].ndim
            weighted = {L: out_cost - free[L] * base.reshape(*base.shape, *([1] * nd))}
        rho, weight = energy.with_free(target.x, free), ell - base

        def products(per_chain: bool) -> dict:
            return energy.param_grad_rho(rho, weight=weight, per_chain=per_chain,
                                         weighted=weighted)

        # the mean in one product summed over chains; the per-chain ones (a 784 × 256 product
        # per chain) only when a standard error reads them
        mean = {k: v / (C * n * B) for k, v in products(False).items()}
        per_chain: dict = {}

        def chain(key):
            if not per_chain:
                per_chain.update({k: v / (n * B) for k, v in products(True).items()})
            return per_chain[key]

        return PerChain(mean, Lazy(mean, chain))


__all__ = ["CovarianceWithCost"]

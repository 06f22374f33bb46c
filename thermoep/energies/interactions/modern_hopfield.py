"""The modern (dense associative memory) Hopfield term of Ramsauer et al. (2020), the
attention-style energy of ModernEqProp (spectral-normalization-eqprop):

    E = −(1/λ) log Σ_μ exp(λ ξ_μ · ρ),   ρ = [ρ(s_a), ρ(s_b)] (one layer or two, flattened),

over M learned patterns ξ_μ, the rows of W ``[M, n_a (+ n_b)]``, with inverse temperature λ.
With p = softmax(λ W ρ) (attention over the patterns):

    field = Wᵀ p (split over the layers),   ∂E/∂W = −Σ_positions p ρᵀ.

Not linear in its layers: relaxation and Langevin handle it, block Gibbs refuses it.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ..layers import Layer
from .base import Interaction, broadcast_shape
from .dense import flat, outer_sum, weighted


class ModernHopfield(Interaction):
    """``ModernHopfield(a[, b], patterns=64, beta=1.0)``; W initialised U(−s, s),
    s = ``init_scale`` or 1/√n."""

    def __init__(self, *layers: Layer, patterns: int = 64, beta: float = 1.0,
                 init_scale: float | None = None) -> None:
        super().__init__(*layers)
        if isinstance(patterns, bool) or not isinstance(patterns, int) or patterns < 1:
            raise ValueError(f"patterns must be a positive int, got {patterns!r}")
        beta = float(beta)
        if not math.isfinite(beta) or beta <= 0:
            raise ValueError(f"beta (the inverse temperature of the patterns) must be > 0, "
                             f"got {beta}")
        self.beta = beta
        self.nd = tuple(layer.ndim for layer in layers)
        self.sizes = tuple(layer.size for layer in layers)
        n = sum(self.sizes)
        bound = init_scale if init_scale is not None else 1.0 / math.sqrt(n)
        self.weight = nn.Parameter(torch.empty(patterns, n).uniform_(-bound, bound))

    def extra_repr(self) -> str:
        return f"{', '.join(self.layer_names)}, patterns={self.weight.shape[0]}, beta={self.beta}"

    def _joint(self, rho) -> Tensor:
        parts = [flat(r, nd) for r, nd in zip(rho, self.nd, strict=True)]
        if len(parts) == 1:
            return parts[0]
        full = broadcast_shape(*(p.shape[:-1] for p in parts))
        return torch.cat([p.expand(*full, p.shape[-1]) for p in parts], -1)

    def energy(self, *rho):
        scores = self._joint(rho) @ self.weight.transpose(0, 1)
        return -torch.logsumexp(self.beta * scores, -1) / self.beta

    def attention(self, *rho) -> Tensor:
        """p = softmax(λ W ρ) over the patterns, ``[..., B, M]``."""
        return torch.softmax(self.beta * (self._joint(rho) @ self.weight.transpose(0, 1)), -1)

    def field(self, i, *rho, base: Tensor | None = None):
        w = self.weight[:, sum(self.sizes[:i]):sum(self.sizes[:i + 1])]
        h = self.attention(*rho) @ w
        if self.nd[i] != 1:
            h = h.reshape(*h.shape[:-1], *self.layer_shapes[i])
        return h if base is None else base + h

    def param_grad(self, *rho, weight=None, per_chain=False):
        p = weighted(self.attention(*rho), weight, 1)
        return self.pull_back({"weight": -outer_sum(p, self._joint(rho), per_chain)}, per_chain)


__all__ = ["ModernHopfield"]

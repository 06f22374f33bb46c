"""A bias on one layer: E = −bᵀ ρ(s), field b, ∂E/∂b = −Σ_positions ρ(s).

For a (C, H, W) layer the bias is per channel by default (``per_channel=False``: one per unit).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..layers import Layer
from .base import Interaction
from .dense import weighted


class Bias(Interaction):
    """E = −Σ_units b ρ(s); initialised to 0, or U(−s, s) with s = ``init_scale``."""

    def __init__(self, layer: Layer, *, init_scale: float | None = None,
                 per_channel: bool = True) -> None:
        super().__init__(layer)
        self.nd = layer.ndim
        self.per_channel = bool(per_channel) and layer.ndim == 3
        shape = (layer.shape[0],) if self.per_channel else layer.shape
        bias = torch.zeros(shape)
        if init_scale:
            bias.uniform_(-init_scale, init_scale)
        self.bias = nn.Parameter(bias)

    def _full(self) -> Tensor:
        return self.bias.reshape(-1, 1, 1) if self.per_channel else self.bias

    def energy(self, r):
        return -(r * self._full()).flatten(r.dim() - self.nd).sum(-1)

    def field(self, i, r, base: Tensor | None = None):
        b = self._full().expand(self.layer_shapes[0])
        return b if base is None else base + b

    def param_grad(self, r, weight=None, per_chain=False):
        post = weighted(r, weight, self.nd)
        spatial = self.nd - (1 if self.per_channel else self.nd)  # unit dims summed away
        if per_chain:
            g = post.reshape(post.shape[0], -1, *post.shape[post.dim() - self.nd:]).sum(1)
        else:
            g = post.reshape(-1, *post.shape[post.dim() - self.nd:]).sum(0)
        if spatial:
            g = g.flatten(g.dim() - spatial).sum(-1)
        return self.pull_back({"bias": -g}, per_chain)

    def linear_in(self, i):
        return True


__all__ = ["Bias"]

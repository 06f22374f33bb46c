"""A fixed quadratic form on one layer: E = ½ ρ(s)ᵀ K ρ(s), K symmetric (a buffer, not
trained). With linear units (c(s) = ½‖s‖²) it makes any Gaussian precision A = I + K, the
closed-form reference of :class:`thermoep.GaussianEnergy`. Field −ρK; no parameters."""

from __future__ import annotations

import torch
from torch import Tensor

from ..layers import Layer
from .base import Interaction
from .dense import flat


class Quadratic(Interaction):
    """E = ½ρᵀKρ with a fixed symmetric ``matrix`` K ``[n, n]``."""

    def __init__(self, layer: Layer, matrix: Tensor) -> None:
        super().__init__(layer)
        n = layer.size
        k = torch.as_tensor(matrix, dtype=torch.get_default_dtype())
        if k.shape != (n, n) or not torch.allclose(k, k.T):
            raise ValueError(f"Quadratic needs a symmetric [{n}, {n}] matrix, got shape "
                             f"{list(k.shape)}")
        self.nd = layer.ndim
        self.register_buffer("matrix", k)

    def energy(self, r):
        f = flat(r, self.nd)
        return 0.5 * ((f @ self.matrix) * f).sum(-1)

    def field(self, i, r, base: Tensor | None = None):
        h = -(flat(r, self.nd) @ self.matrix)
        if self.nd != 1:
            h = h.reshape(*h.shape[:-1], *self.layer_shapes[0])
        return h if base is None else base + h

    def param_grad(self, r, weight=None, per_chain=False):
        return {}

    def couplings(self, i):
        mask = self.matrix != 0
        return mask & ~torch.eye(len(mask), dtype=torch.bool, device=mask.device)

    def far_curvature(self, i):
        return float(torch.linalg.eigvalsh(self.matrix).min())


__all__ = ["Quadratic"]

"""A symmetric coupling within one layer: E = −½ ρ(s)ᵀ J ρ(s), J = sym(W) ⊙ M, zero diagonal.

M is a symmetric boolean mask of which units couple (default: all pairs): a lattice
(:func:`lattice`, nearest neighbours, the 2-D Ising model), a ring (:func:`ring`, the
ToroidalMLP of spectral-normalization-eqprop) or any graph. J is a parametrisation of the stored
W (``torch.nn.utils.parametrize``), so ``self.weight`` is J itself and spectral normalisation can
be stacked on top of it. Analytic pieces (J symmetric):

    field = ρ J,   ∂E/∂J = −½ Σ_positions ρᵀρ   (pulled back to W through the parametrisation).

E is quadratic in ρ, but with a zero diagonal it is linear in each unit given all the others:
units that do not couple (a colour class of M's graph, the checkerboard of a lattice) can be
drawn together by block Gibbs.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn.utils import parametrize

from ..layers import Layer
from .base import Interaction
from .dense import flat, matmul_add, outer_sum, weighted


def lattice(height: int, width: int, *, periodic: bool = False) -> Tensor:
    """Nearest-neighbour mask ``[n, n]`` of an ``height × width`` grid (row-major units);
    ``periodic`` wraps the edges (a torus)."""
    n = height * width
    idx = torch.arange(n, device="cpu").reshape(height, width)
    mask = torch.zeros(n, n, dtype=torch.bool, device="cpu")
    for shift, dim in ((1, 0), (1, 1)):
        nb = torch.roll(idx, -shift, dims=dim)
        src, dst = idx, nb
        if not periodic:
            keep = (slice(0, height - 1), slice(None)) if dim == 0 else \
                (slice(None), slice(0, width - 1))
            src, dst = idx[keep], nb[keep]
        mask[src.reshape(-1), dst.reshape(-1)] = True
    mask = mask | mask.T
    mask.fill_diagonal_(False)
    return mask


def ring(n: int, k: int = 1) -> Tensor:
    """Mask ``[n, n]`` coupling each unit to its k nearest neighbours on each side of a ring."""
    idx = torch.arange(n, device="cpu")
    mask = torch.zeros(n, n, dtype=torch.bool, device="cpu")
    for d in range(1, k + 1):
        mask[idx, (idx + d) % n] = True
    mask = mask | mask.T
    mask.fill_diagonal_(False)
    return mask


class _SymmetricMasked(nn.Module):
    """W ↦ ½(W + Wᵀ) ⊙ M."""

    def __init__(self, mask: Tensor) -> None:
        super().__init__()
        self.register_buffer("mask", mask.to(torch.get_default_dtype()))

    def forward(self, w: Tensor) -> Tensor:
        return 0.5 * (w + w.transpose(0, 1)) * self.mask.to(device=w.device, dtype=w.dtype)


class Lateral(Interaction):
    """``Lateral(layer, mask=None, init_scale=None)``: E = −½ρᵀJρ, J = sym(W) ⊙ M with zero
    diagonal; W initialised U(−s, s), s = ``init_scale`` or 1/√n."""

    def __init__(self, layer: Layer, mask: Tensor | None = None, *,
                 init_scale: float | None = None) -> None:
        super().__init__(layer)
        n = layer.size
        self.nd = layer.ndim
        # the mask is structure, built on the CPU (also when the energy is built on the meta
        # device to count its parameters)
        if mask is None:
            mask = torch.ones(n, n, dtype=torch.bool, device="cpu")
        mask = torch.as_tensor(mask, dtype=torch.bool, device="cpu")
        if mask.shape != (n, n) or not torch.equal(mask, mask.T):
            raise ValueError(f"a Lateral mask must be a symmetric boolean [{n}, {n}] tensor, got "
                             f"shape {list(mask.shape)}"
                             + ("" if mask.shape != (n, n) else " (not symmetric)"))
        mask = mask.clone()
        mask.fill_diagonal_(False)
        bound = init_scale if init_scale is not None else 1.0 / math.sqrt(max(n, 1))
        self.weight = nn.Parameter(torch.empty(n, n).uniform_(-bound, bound))
        parametrize.register_parametrization(self, "weight", _SymmetricMasked(mask))
        self._mask = mask

    def energy(self, r):
        f = flat(r, self.nd)
        return -0.5 * ((f @ self.weight) * f).sum(-1)

    def field(self, i, r, base: Tensor | None = None):
        f = flat(r, self.nd)
        w = self.weight.to(f.dtype) if f.is_complex() else self.weight
        if base is not None and self.nd == 1:
            fused = matmul_add(base, f, w)
            if fused is not None:
                return fused
        h = f @ w
        if self.nd != 1:
            h = h.reshape(*h.shape[:-1], *self.layer_shapes[0])
        return h if base is None else base + h

    def linear_operator(self, i):
        return (self.weight, 0) if self.nd == 1 else None

    def param_grad(self, r, weight=None, per_chain=False):
        f = flat(r, self.nd)
        g = -0.5 * outer_sum(f, flat(weighted(r, weight, self.nd), self.nd), per_chain)
        return self.pull_back({"weight": g}, per_chain)

    def conditionally_linear(self, i):
        return True

    def couplings(self, i):
        return self._mask


__all__ = ["Lateral", "lattice", "ring"]

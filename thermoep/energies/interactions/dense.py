"""Dense (all-to-all) coupling of two layers: E = −ρ(s_a)ᵀ W ρ(s_b).

Layers of any shape couple through their flattened units; W has shape ``[n_a, n_b]``, so for the
layered networks ρ(s_{l−1})ᵀ W_l ρ(s_l) with W_l ``[n_{l−1}, n_l]``. Analytic pieces:

    field on b = ρ_a W,   field on a = ρ_b Wᵀ,   ∂E/∂W = −Σ_positions ρ_aᵀ ρ_b.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ..layers import Layer
from .base import Interaction, broadcast_shape


def flat(t: Tensor, ndim: int) -> Tensor:
    """``[..., *shape]`` → ``[..., n]`` (a view when possible)."""
    return t if ndim == 1 else t.flatten(t.dim() - ndim)


def outer_sum(a: Tensor, b: Tensor, per_chain: bool) -> Tensor:
    """Σ over every leading position of aᵀb, keeping the first (chain) dimension when
    ``per_chain``. ``a``: ``[..., m]``, ``b``: ``[..., n]`` with broadcastable leading shapes;
    a side with fewer leading dimensions (the clamped input) is contracted in one matmul."""
    if a.is_complex() != b.is_complex():  # complex states (holomorphic EP), a real input
        a, b = (a.to(b.dtype), b) if b.is_complex() else (a, b.to(a.dtype))
    if a.dim() > b.dim():
        return outer_sum(b, a, per_chain).transpose(-1, -2)
    m, n = a.shape[-1], b.shape[-1]
    if a.dim() == b.dim() and m > n:
        # (bᵀa)ᵀ: CPU matmuls are several times faster with the wide factor on the right
        # (256 × K times K × 10 took 4.5× as long as 10 × K times K × 256)
        return outer_sum(b, a, per_chain).transpose(-1, -2)
    extra = b.dim() - a.dim()
    if extra > 0 and tuple(b.shape[extra:-1]) == tuple(a.shape[:-1]):
        if per_chain:
            bb = b.reshape(b.shape[0], -1, *b.shape[extra:]).sum(1)
            return torch.matmul(a.reshape(-1, m).transpose(0, 1), bb.reshape(b.shape[0], -1, n))
        return a.reshape(-1, m).transpose(0, 1) @ b.reshape(-1, *b.shape[extra:]).sum(0) \
            .reshape(-1, n)
    full = broadcast_shape(a.shape[:-1], b.shape[:-1])
    a, b = a.expand(*full, m), b.expand(*full, n)
    if per_chain:
        C = full[0]
        return torch.bmm(a.reshape(C, -1, m).transpose(1, 2), b.reshape(C, -1, n))
    return a.reshape(-1, m).transpose(0, 1) @ b.reshape(-1, n)


def matmul_add(base: Tensor, src: Tensor, w: Tensor) -> Tensor | None:
    """base + src @ w as one ``addmm`` when ``base`` is a row (a bias, one input's drive) or
    has src's leading shape, the leading dimensions of ``src`` flattened; None otherwise (the
    caller adds). One kernel instead of two per field and step: at a few chains the samplers'
    steps are bound by kernel count, not arithmetic."""
    if base.dtype != src.dtype:
        return None
    lead, n = src.shape[:-1], w.shape[-1]
    if src.dim() == 2 and base.dim() <= 2:
        return torch.addmm(base, src, w)  # (a bias [n] broadcasts over the batch)
    if base.dim() == 1 or (base.dim() == 2 and base.shape[0] == 1):
        return torch.addmm(base, src.reshape(-1, src.shape[-1]), w).reshape(*lead, n)
    if tuple(base.shape[:-1]) == tuple(lead):
        return torch.addmm(base.reshape(-1, n), src.reshape(-1, src.shape[-1]), w) \
            .reshape(*lead, n)
    return None


def weighted(t: Tensor, weight: Tensor | None, ndim: int) -> Tensor:
    """``t`` times a per-position ``weight`` of shape ``[..., B]``."""
    if weight is None:
        return t
    return t * weight.reshape(*weight.shape, *([1] * ndim))


class Dense(Interaction):
    """E = −ρ_aᵀ W ρ_b with W ``[n_a, n_b]`` initialised U(−s, s), s = ``init_scale`` or
    1/√n_a."""

    def __init__(self, a: Layer, b: Layer, *, init_scale: float | None = None) -> None:
        super().__init__(a, b)
        self.nd = (a.ndim, b.ndim)
        self.sizes = (a.size, b.size)
        bound = init_scale if init_scale is not None else 1.0 / math.sqrt(max(a.size, 1))
        self.weight = nn.Parameter(torch.empty(a.size, b.size).uniform_(-bound, bound))

    def energy(self, ra, rb):
        fa, fb = flat(ra, self.nd[0]), flat(rb, self.nd[1])
        return -((fa @ self.weight) * fb).sum(-1)

    def field(self, i, ra, rb, base: Tensor | None = None):
        """ρ_a W onto b (i = 1), ρ_b Wᵀ onto a (i = 0); added to ``base`` when given (fused)."""
        w = self.weight
        if (ra if i == 1 else rb).is_complex():  # complex states: the weights as complex too
            w = w.to((ra if i == 1 else rb).dtype)
        if i == 1:
            src, w, nd_out, shape = flat(ra, self.nd[0]), w, self.nd[1], self.layer_shapes[1]
        else:
            src, w, nd_out, shape = flat(rb, self.nd[1]), w.transpose(0, 1), self.nd[0], \
                self.layer_shapes[0]
        if base is not None and nd_out == 1:
            fused = matmul_add(base, src, w)
            if fused is not None:
                return fused
        h = src @ w
        if nd_out != 1:
            h = h.reshape(*h.shape[:-1], *shape)
        return h if base is None else base + h

    def linear_operator(self, i):
        if self.nd != (1, 1):
            return None
        return (self.weight, 0) if i == 1 else (self.weight.transpose(0, 1), 1)

    def param_grad(self, ra, rb, weight=None, per_chain=False):
        fa = flat(ra, self.nd[0])
        fb = flat(weighted(rb, weight, self.nd[1]), self.nd[1])
        return self.pull_back({"weight": -outer_sum(fa, fb, per_chain)}, per_chain)

    def linear_in(self, i):
        return True


__all__ = ["Dense", "flat", "matmul_add", "outer_sum", "weighted"]

"""Convolutional coupling of two (C, H, W) layers, as in the deep convolutional Hopfield
networks of Scellier et al. (ebl-algorithms-comparative-study §3) and Laborieux et al. (2021):

    E = −ρ(s_b) · P(conv(ρ(s_a); W)),

a convolution (stride, padding) followed by pooling P (max, average, or none). With
z = conv(ρ_a) and P* the adjoint of P's Jacobian at z (max pooling routes each value back to
the position of its maximum, average pooling spreads it evenly over its window):

    field on b = P(z),   field on a = convᵀ(P*(ρ_b)),   ∂E/∂W = −Σ_positions ρ_a ⋆ P*(ρ_b).

E is linear in ρ_b; it is linear in ρ_a for average or no pooling, piecewise linear for max
pooling (the argmax moves with ρ_a).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..layers import Layer
from .base import Interaction, broadcast_shape
from .dense import weighted

POOLING = ("max", "avg", None)


def _conv_out(n: int, k: int, stride: int, padding: int) -> int:
    return (n + 2 * padding - k) // stride + 1


class Conv2d(Interaction):
    """``Conv2d(a, b, kernel_size=3, stride=1, padding=1, pool="max", pool_size=2)``; W has
    torch's layout ``[C_b, C_a, k, k]``, initialised U(−s, s), s = ``init_scale`` or
    1/√(C_a k²). Layer b's shape must be the pooled output's."""

    def __init__(self, a: Layer, b: Layer, *, kernel_size: int = 3, stride: int = 1,
                 padding: int = 1, pool: str | None = "max", pool_size: int = 2,
                 init_scale: float | None = None) -> None:
        super().__init__(a, b)
        if a.ndim != 3 or b.ndim != 3:
            raise ValueError(f"Conv2d couples (C, H, W) layers; got {a!r} and {b!r}")
        if pool not in POOLING:
            raise ValueError(f"pool must be one of {list(POOLING)}, got {pool!r}")
        self.kernel_size, self.stride, self.padding = int(kernel_size), int(stride), int(padding)
        self.pool, self.pool_size = pool, int(pool_size) if pool else 1
        c_a, h, w = a.shape
        hc = _conv_out(h, self.kernel_size, self.stride, self.padding)
        wc = _conv_out(w, self.kernel_size, self.stride, self.padding)
        self.conv_shape = (b.shape[0], hc, wc)
        want = (b.shape[0], hc // self.pool_size, wc // self.pool_size)
        if hc < 1 or wc < 1 or tuple(b.shape) != want:
            raise ValueError(
                f"layer {b.name!r} has shape {b.shape}, but a {self.kernel_size}×"
                f"{self.kernel_size} convolution (stride {self.stride}, padding {self.padding})"
                f"{f' and {self.pool_size}×{self.pool_size} {pool} pooling' if pool else ''} of "
                f"{a.name!r} {a.shape} gives {want}")
        bound = init_scale if init_scale is not None else 1.0 / math.sqrt(
            c_a * self.kernel_size ** 2)
        self.weight = nn.Parameter(torch.empty(b.shape[0], c_a, self.kernel_size,
                                               self.kernel_size).uniform_(-bound, bound))

    def extra_repr(self) -> str:
        return (f"{', '.join(self.layer_names)}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, pool={self.pool!r}")

    # -- pieces ------------------------------------------------------------------------------------
    @staticmethod
    def _batch(t: Tensor) -> tuple[Tensor, tuple[int, ...]]:
        lead = t.shape[:-3]
        return t.reshape(-1, *t.shape[-3:]), lead

    def _conv(self, ra: Tensor) -> Tensor:
        return F.conv2d(ra, self.weight, stride=self.stride, padding=self.padding)

    def _pool(self, z: Tensor, indices: bool = True):
        """(P(z), whatever P* needs)."""
        k = self.pool_size
        if self.pool == "max":
            return F.max_pool2d(z, k, return_indices=True) if indices else \
                (F.max_pool2d(z, k), None)
        if self.pool == "avg":
            return F.avg_pool2d(z, k), None
        return z, None

    def _unpool(self, rb: Tensor, aux) -> Tensor:
        """P*(ρ_b) on the convolution's output grid."""
        k, (_, hc, wc) = self.pool_size, self.conv_shape
        if self.pool == "max":
            return F.max_unpool2d(rb, aux, k, output_size=(hc, wc))
        if self.pool == "avg":
            up = rb.repeat_interleave(k, -2).repeat_interleave(k, -1) / (k * k)
            return F.pad(up, (0, wc - up.shape[-1], 0, hc - up.shape[-2]))
        return rb

    def _indices(self, ra: Tensor):
        return self._pool(self._conv(ra))[1] if self.pool == "max" else None

    # -- the mathematics ---------------------------------------------------------------------------
    def energy(self, ra, rb):
        a, lead = self._batch(ra)
        hb = self._pool(self._conv(a), indices=False)[0]
        hb = hb.reshape(*lead, *hb.shape[1:])
        return -(hb * rb).flatten(-3).sum(-1)

    def field(self, i, ra, rb, base: Tensor | None = None):
        if i == 1:
            a, lead = self._batch(ra)
            h = self._pool(self._conv(a), indices=False)[0]
            h = h.reshape(*lead, *h.shape[1:])
        else:
            if self.pool == "max":  # P* routes through the argmax, which depends on ρ_a
                full = broadcast_shape(ra.shape[:-3], rb.shape[:-3])
                a, _ = self._batch(ra.expand(*full, *ra.shape[-3:]))
                indices = self._indices(a)
            else:
                # linear in ρ_a: the field does not read it (the energy passes a placeholder
                # for ρ_a when it computes the input-only part of the field once per batch)
                full, indices = tuple(rb.shape[:-3]), None
            b, _ = self._batch(rb.expand(*full, *rb.shape[-3:]))
            up = self._unpool(b, indices)
            h = torch.nn.grad.conv2d_input((b.shape[0], *self.layer_shapes[0]), self.weight, up,
                                           stride=self.stride, padding=self.padding)
            h = h.reshape(*full, *h.shape[1:])
        return h if base is None else base + h

    def param_grad(self, ra, rb, weight=None, per_chain=False):
        post = weighted(rb, weight, 3)
        extra = post.dim() - ra.dim()
        if extra > 0:
            # ρ_a (the clamped input) is shared by the leading positions of ρ_b, and P* is
            # linear in ρ_b for a fixed ρ_a: sum ρ_b over them first
            if per_chain:
                sums = post.reshape(post.shape[0], -1, *post.shape[extra:]).sum(1)
                pairs = [(ra, p) for p in sums]
            else:
                pairs = [(ra, post.reshape(-1, *post.shape[extra:]).sum(0))]
        else:
            full = broadcast_shape(ra.shape[:-3], post.shape[:-3])
            ra, post = ra.expand(*full, *ra.shape[-3:]), post.expand(*full, *post.shape[-3:])
            pairs = list(zip(ra, post, strict=True)) if per_chain else [(ra, post)]
        grads = []
        for a_c, b_c in pairs:
            a, _ = self._batch(a_c)
            b, _ = self._batch(b_c)
            up = self._unpool(b, self._indices(a))
            grads.append(-torch.nn.grad.conv2d_weight(a, self.weight.shape, up,
                                                      stride=self.stride, padding=self.padding))
        g = torch.stack(grads) if per_chain else grads[0]
        return self.pull_back({"weight": g}, per_chain)

    def linear_in(self, i):
        return i == 1 or self.pool != "max"


__all__ = ["POOLING", "Conv2d"]

"""Costs ℓ(s, y) on the output layer s_L (DESIGN.md §2). They do not depend on θ.

Targets ``y`` are class indices ``[batch]`` (int) or float targets ``[batch, n_out]``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


class Cost:
    """Base class: ``value``/``grad`` act on the output layer ``s_L`` of shape ``[..., B, n]``."""

    separable = False
    #: largest curvature of ℓ in s_L (None: ℓ grows at most linearly, no nudge makes E + bℓ
    #: unbounded below)
    curvature: float | None = None

    def target(self, y: Tensor, n_out: int, *, dtype, device) -> Tensor:
        """Float targets ``[B, n_out]`` (one-hot for class indices)."""
        if not isinstance(y, torch.Tensor):
            raise TypeError(f"y must be a torch.Tensor, got {type(y).__name__}")
        if y.dim() == 1:
            if y.dtype.is_floating_point or y.dtype == torch.bool:
                raise TypeError(f"class labels y must be an integer tensor, got dtype {y.dtype}")
            if y.numel() and (int(y.min()) < 0 or int(y.max()) >= n_out):
                raise ValueError(
                    f"class labels must lie in [0, {n_out - 1}], got range "
                    f"[{int(y.min())}, {int(y.max())}]"
                )
            return F.one_hot(y.to(device), n_out).to(dtype)
        if y.dim() == 2 and y.shape[1] == n_out:
            if not torch.isfinite(y).all():
                raise ValueError("y contains non-finite values")
            return y.to(dtype=dtype, device=device)
        raise ValueError(
            f"y must be class indices [batch] or targets [batch, {n_out}], got {list(y.shape)}"
        )

    def value(self, out: Tensor, y: Tensor) -> Tensor:
        raise NotImplementedError

    def grad(self, out: Tensor, y: Tensor) -> Tensor:
        raise NotImplementedError

    def flip_delta(self, out: Tensor, y: Tensor) -> Tensor:
        """ℓ(s_i = 1) − ℓ(s_i = 0) per output unit, for exact Gibbs conditionals."""
        raise TypeError(
            f"{type(self).__name__} is not separable over output units, so block Gibbs cannot "
            "use it; use SquaredError with binary units"
        )

    def __call__(self, out: Tensor, y: Tensor) -> Tensor:
        return self.value(out, y)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class SquaredError(Cost):
    """ℓ = ½‖s_L − y‖²; ∂ℓ/∂s_L = s_L − y; for binary units ℓ(1) − ℓ(0) = ½ − y."""

    separable = True
    curvature = 1.0

    def value(self, out, y):
        return 0.5 * ((out - y) ** 2).sum(-1)

    def grad(self, out, y):
        return out - y

    def flip_delta(self, out, y):
        return (0.5 - y).expand_as(out)


class CrossEntropy(Cost):
    """ℓ = −log softmax(s_L)[y], reading the output layer as logits; ∂ℓ/∂s_L = softmax − y."""

    def value(self, out, y):
        return torch.logsumexp(out, -1) - (out * y).sum(-1)

    def grad(self, out, y):
        return torch.softmax(out, -1) - y


COSTS = {"squared-error": SquaredError, "cross-entropy": CrossEntropy}

"""Costs ℓ(s, y) on the output layer s_L (docs/design.md §2).

Targets ``y`` are class indices ``[batch]`` (int) or float targets ``[batch, n_out]``.
:class:`SquaredError` and :class:`CrossEntropy` have no parameters. :class:`SoftmaxReadout` owns
a linear read-out φ = (W, c) of s_L, which the estimators train alongside θ (the energy's own
parameters are still the only ones the dynamics' energy E depends on).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from . import _checks


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

    def predict(self, out: Tensor) -> Tensor:
        """Class scores from the output layer (argmax = predicted class): s_L itself."""
        return out

    def named_trainables(self) -> dict[str, nn.Parameter]:
        """The cost's own parameters φ, keyed as in a :class:`~thermoep.Gradient` (none here)."""
        return {}

    #: the cost reads the energy's last layer through parameters of its own (a read-out), so
    #: the energy ends with its last hidden layer
    reads_hidden = False

    @classmethod
    def for_model(cls, features: int, classes: int) -> Cost:
        """The cost for an energy whose output layer has ``features`` units and ``classes``
        classes."""
        return cls()

    def param_grad(self, out: Tensor, y: Tensor) -> dict[str, Tensor]:
        """Σ over the batch (and chains) of ∂ℓ/∂φ at ``out``; empty without parameters."""
        return {}

    def quadratic_terms(self, y: Tensor) -> tuple[float, Tensor]:
        """(κ, λ) with ℓ(s_L, y) = Σ_k (½κ s_k² − λ_k s_k) + const, for costs that are
        quadratic and separable over the output units: what block Gibbs and the step
        Rao–Blackwellisation need."""
        raise TypeError(
            f"{type(self).__name__} is not quadratic and separable over the output units, so "
            "the output layer's law given its field has no closed form (block Gibbs, "
            "Rao–Blackwellised ULA); use SquaredError")

    def unit_values(self, out: Tensor, y: Tensor) -> Tensor:
        """ℓ_k per output unit for a separable cost (ℓ = Σ_k ℓ_k)."""
        self.quadratic_terms(y)  # raises for a cost that is not separable
        raise NotImplementedError

    def __call__(self, out: Tensor, y: Tensor) -> Tensor:
        return self.value(out, y)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class SquaredError(Cost):
    """ℓ = ½‖s_L − y‖²; ∂ℓ/∂s_L = s_L − y; quadratic and separable (κ = 1, λ = y)."""

    separable = True
    curvature = 1.0

    def value(self, out, y):
        return 0.5 * ((out - y) ** 2).sum(-1)

    def grad(self, out, y):
        return out - y

    def quadratic_terms(self, y):
        return 1.0, y

    def unit_values(self, out, y):
        return 0.5 * (out - y) ** 2


class CrossEntropy(Cost):
    """ℓ = −log softmax(s_L)[y], reading the output layer as logits; ∂ℓ/∂s_L = softmax − y."""

    def value(self, out, y):
        return torch.logsumexp(out, -1) - (out * y).sum(-1)

    def grad(self, out, y):
        return torch.softmax(out, -1) - y


class SoftmaxReadout(Cost, nn.Module):
    """Cross-entropy of a softmax read-out that is not part of the energy (Laborieux et al. 2021,
    "Scaling EP to deep ConvNets", §3: the output units leave the dynamics and the last layer of
    the network is read by a linear map):

        z = s_L W + c,   ℓ(s_L, y) = logsumexp(z) − zᵀy,
        ∂ℓ/∂s_L = (softmax(z) − y) Wᵀ,   ∂ℓ/∂W = s_Lᵀ(softmax(z) − y),   ∂ℓ/∂c = softmax(z) − y.

    ``W`` is ``[n_L, classes]`` (the energies' convention), initialised like ``nn.Linear``. The
    nudge b·∂ℓ/∂s_L acts on the last layer of the energy, so the "output layer" of the dynamics
    is the last hidden layer. Its parameters φ enter the free energy F_b = min(E + bℓ) only
    through bℓ, so ∂φF_b = b·∂φℓ(s_b) (envelope theorem, T = 0): every finite-difference
    estimator Σ_k c_k ∂θF_{b_k} / β then trains φ as well — one-sided gives ∂φℓ(s_β), centered
    ½[∂φℓ(s_β) + ∂φℓ(s_−β)], each with the bias order it has for θ. ℓ grows linearly in s_L, so
    no nudge makes E + bℓ unbounded below (``curvature = None``).
    """

    prefix = "readout"
    reads_hidden = True
    _logits_cost = CrossEntropy()  # ℓ and ∂ℓ/∂z on the logits z

    @classmethod
    def for_model(cls, features: int, classes: int) -> SoftmaxReadout:
        return cls(features, classes)

    def __init__(self, in_features: int, classes: int) -> None:
        nn.Module.__init__(self)
        self.in_features = _checks.positive_int("in_features", in_features)
        self.classes = _checks.positive_int("classes", classes)
        bound = 1.0 / math.sqrt(self.in_features)
        self.weight = nn.Parameter(torch.empty(self.in_features, self.classes).uniform_(-bound,
                                                                                         bound))
        self.bias = nn.Parameter(torch.empty(self.classes).uniform_(-bound, bound))

    def __repr__(self) -> str:
        return f"SoftmaxReadout(in_features={self.in_features}, classes={self.classes})"

    __call__ = Cost.__call__

    def target(self, y: Tensor, n_out: int, *, dtype, device) -> Tensor:
        if n_out != self.in_features:
            raise ValueError(
                f"SoftmaxReadout reads {self.in_features} units but the energy's last layer has "
                f"{n_out}: build the energy without an output layer (its last layer is the last "
                "hidden layer) and the read-out as SoftmaxReadout(last hidden size, classes)"
            )
        return super().target(y, self.classes, dtype=dtype, device=device)

    def logits(self, out: Tensor) -> Tensor:
        return out @ self.weight.to(out.dtype) + self.bias.to(out.dtype)

    predict = logits

    def value(self, out, y):
        return self._logits_cost.value(self.logits(out), y)

    def _error(self, out, y):
        """∂ℓ/∂z = softmax(z) − y."""
        return self._logits_cost.grad(self.logits(out), y)

    def grad(self, out, y):
        return self._error(out, y) @ self.weight.to(out.dtype).transpose(0, 1)

    def named_trainables(self) -> dict[str, nn.Parameter]:
        return {f"{self.prefix}.{k}": p for k, p in self.named_parameters()}

    def param_grad(self, out, y):
        err = self._error(out, y)
        return {f"{self.prefix}.weight": out.reshape(-1, out.shape[-1]).transpose(0, 1)
                @ err.reshape(-1, err.shape[-1]),
                f"{self.prefix}.bias": err.reshape(-1, err.shape[-1]).sum(0)}


def trainables(model: nn.Module, cost: Cost | None = None) -> dict[str, nn.Parameter]:
    """Every trained parameter, keyed like a :class:`~thermoep.Gradient`: the energy's
    ``named_parameters()`` then the cost's own (``readout.weight``, ...)."""
    out = dict(model.named_parameters())
    if cost is not None:
        out.update(cost.named_trainables())
    return out


COSTS = {"squared-error": SquaredError, "cross-entropy": CrossEntropy,
         "softmax-readout": SoftmaxReadout}

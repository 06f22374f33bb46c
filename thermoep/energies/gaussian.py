"""Quadratic (Gaussian) energy with closed-form Boltzmann moments, the reference for Langevin.

    E(s; x) = ½ sᵀ A s − (x W + b)ᵀ s,   one free layer, A symmetric positive definite (fixed):

linear units (c(s) = ½‖s‖²), a Dense and a Bias term, and a fixed Quadratic term ½sᵀ(A − I)s.
With ℓ = ½‖s − y‖² the nudged distribution p_b ∝ exp(−(E + bℓ)/T) is Gaussian with precision
(A + b I)/T and mean μ_b = (A + b I)⁻¹ (x W + b_vec + b y), so every quantity has a closed form
(see :func:`thermoep.objectives.references.gaussian_grad_L`).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .. import _checks
from .interactions import Bias, Dense, Quadratic
from .layers import Input, Layer
from .model import Energy


class GaussianEnergy(Energy):
    """E = ½ sᵀAs − (xW + b)ᵀs with a fixed SPD ``precision`` A of shape [n, n]."""

    def __init__(self, sizes, precision: Tensor | None = None, *, init_scale=None):
        sizes = _checks.layer_sizes(sizes)
        if len(sizes) != 2:
            raise ValueError(f"GaussianEnergy has one free layer: sizes=[n_in, n], got "
                             f"{list(sizes)}")
        n_in, n = sizes
        if precision is None:
            precision = torch.eye(n)
        precision = torch.as_tensor(precision, dtype=torch.get_default_dtype())
        if precision.shape != (n, n):
            raise ValueError(f"precision must have shape [{n}, {n}], got "
                             f"{list(precision.shape)}")
        symmetric = torch.allclose(precision, precision.T)
        if not symmetric or torch.linalg.eigvalsh(precision).min() <= 0:
            raise ValueError("precision must be symmetric positive definite")
        x, s = Input("x", n_in), Layer("s1", n, "linear")
        bound = init_scale if init_scale is not None else 1.0 / math.sqrt(n_in)
        dense = Dense(x, s, init_scale=bound)
        bias = Bias(s, init_scale=bound)
        coupling = Quadratic(s, precision - torch.eye(n, dtype=precision.dtype))
        super().__init__([x, s], [dense, bias, coupling])
        self.sizes = sizes
        self.register_buffer("precision", precision)

    @property
    def weights(self):
        return (self.dense_x_s1.weight,)

    @property
    def biases(self):
        return (self.bias_s1.bias,)

    def moments(self, x: Tensor, y: Tensor, nudge: float, temperature: float):
        """Mean ``[B, n]`` and covariance ``[n, n]`` of p_b for ℓ = ½‖s − y‖²."""
        n = self.sizes[1]
        prec = self.precision + nudge * torch.eye(n, dtype=self.dtype, device=self.device)
        if torch.linalg.eigvalsh(prec).min() <= 0:
            raise ValueError(f"A + b·I is not positive definite for nudge b={nudge}")
        cov = torch.linalg.inv(prec)
        drive = self.constant_fields(self.check_input(x))[0]
        mean = (drive + nudge * y) @ cov
        return mean, temperature * cov

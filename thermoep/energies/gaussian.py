"""Quadratic (Gaussian) energy with closed-form Boltzmann moments, the reference for Langevin.

    E(s; x) = ½ sᵀ A s − (x W + b)ᵀ s,   one free layer, A symmetric positive definite (fixed).

With ℓ = ½‖s − y‖² the nudged distribution p_b ∝ exp(−(E + bℓ)/T) is Gaussian with precision
(A + b I)/T and mean μ_b = (A + b I)⁻¹ (x W + b_vec + b y), so every quantity of DESIGN.md §1 has a
closed form (see :func:`thermoep.objectives.references.gaussian_grad_L`).
"""

from __future__ import annotations

import torch
from torch import Tensor

from .base import LayeredEnergy, State


class GaussianEnergy(LayeredEnergy):
    """E = ½ sᵀAs − (xW + b)ᵀs with a fixed SPD ``precision`` A of shape [n, n]."""

    def __init__(self, sizes, precision: Tensor | None = None, *, init_scale=None):
        super().__init__(sizes, init_scale=init_scale)
        if self.num_layers != 1:
            raise ValueError(f"GaussianEnergy has one free layer: sizes=[n_in, n], got {sizes}")
        n = self.sizes[1]
        if precision is None:
            precision = torch.eye(n)
        precision = torch.as_tensor(precision, dtype=self.dtype)
        if precision.shape != (n, n):
            raise ValueError(f"precision must have shape [{n}, {n}], got {list(precision.shape)}")
        symmetric = torch.allclose(precision, precision.T)
        if not symmetric or torch.linalg.eigvalsh(precision).min() <= 0:
            raise ValueError("precision must be symmetric positive definite")
        self.register_buffer("precision", precision)

    def rho(self, s: Tensor) -> Tensor:
        return s

    def rho_prime(self, s: Tensor) -> Tensor:
        return torch.ones_like(s)

    def self_energy(self, s: Tensor) -> Tensor:
        return 0.5 * ((s @ self.precision) * s).sum(-1)

    def self_grad(self, s: Tensor) -> Tensor:
        return s @ self.precision

    @property
    def output_curvature(self) -> float:
        return float(torch.linalg.eigvalsh(self.precision).min())

    def init_state(self, batch_shape, generator=None) -> State:
        return (torch.zeros(*batch_shape, self.sizes[1], dtype=self.dtype, device=self.device),)

    def moments(self, x: Tensor, y: Tensor, nudge: float, temperature: float):
        """Mean ``[B, n]`` and covariance ``[n, n]`` of p_b for ℓ = ½‖s − y‖²."""
        n = self.sizes[1]
        prec = self.precision + nudge * torch.eye(n, dtype=self.dtype, device=self.device)
        if torch.linalg.eigvalsh(prec).min() <= 0:
            raise ValueError(f"A + b·I is not positive definite for nudge b={nudge}")
        cov = torch.linalg.inv(prec)
        mean = (self.input_drive(x) + nudge * y) @ cov
        return mean, temperature * cov

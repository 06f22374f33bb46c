"""Layered Boltzmann machine with binary units s ∈ {0, 1} (DESIGN.md §2):

    E = −Σ_l s_{l−1}ᵀ W_l s_l − Σ_l b_lᵀ s_l,   s_0 := x.

E is linear in every unit, so flipping unit i of layer l on changes E by −h_{l,i}: the exact
conditional is p(s_{l,i} = 1 | rest) = σ(h_{l,i} / T).
"""

from __future__ import annotations

import torch
from torch import Tensor

from .base import LayeredEnergy, State


class LayeredBoltzmann(LayeredEnergy):
    """Binary layered Boltzmann machine; Gibbs alternates the even and odd layer blocks."""

    binary = True

    def extra_repr(self) -> str:
        return f"sizes={list(self.sizes)}"

    def rho(self, s: Tensor) -> Tensor:
        return s

    def rho_prime(self, s: Tensor) -> Tensor:
        return torch.ones_like(s)

    def self_energy(self, s: Tensor) -> Tensor:
        return torch.zeros(s.shape[:-1], dtype=s.dtype, device=s.device)

    def self_grad(self, s: Tensor) -> Tensor:
        return torch.zeros_like(s)

    def conditional_mean(self, i: int, h: Tensor, temperature: float,
                         start: Tensor | None = None) -> Tensor:
        """E[a_i s_i | rest] = a_i σ(a_i h_i / T) (flipping s_i on changes E by −a_i h_i)."""
        a = self.unit_scale(i)
        if a is None:
            return torch.sigmoid(h / temperature)
        return a * torch.sigmoid(a * h / temperature)

    def init_state(self, batch_shape: tuple[int, ...], generator=None) -> State:
        return tuple(
            torch.randint(0, 2, (*batch_shape, n), generator=generator, device=self.device)
            .to(self.dtype)
            for n in self.layer_sizes
        )

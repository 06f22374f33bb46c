"""Layered Boltzmann machine with binary units s ∈ {0, 1}:

    E = −Σ_l s_{l−1}ᵀ W_l s_l − Σ_l b_lᵀ s_l,   s_0 := x.

E is linear in every unit, so the exact conditional is p(s_{l,i} = 1 | rest) = σ(h_{l,i}/T);
block Gibbs alternates the even and odd layers (the computed blocks).
"""

from __future__ import annotations

from .layered import LayeredEnergy


class LayeredBoltzmann(LayeredEnergy):
    """Binary layered Boltzmann machine, ``LayeredBoltzmann([6, 5, 3])``."""

    def __init__(self, sizes, *, init_scale: float | None = None):
        super().__init__(sizes, "binary", init_scale=init_scale)

    def extra_repr(self) -> str:
        return f"sizes={list(self.sizes)}"

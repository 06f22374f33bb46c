"""The "prototypical" layered network of Ernoult et al. (2019), used by Laborieux et al. (2021) and
by the hybrid-EP seed (§2.1: "the discrete-time formulation ... governed by a scalar primitive Φ").

Their dynamics are s_l ← σ(∂Φ/∂s_l) with the bilinear primitive Φ = Σ_l s_{l−1}ᵀ W_l s_l + b_lᵀ s_l,
i.e. s_l ← σ(h_l), h_l = s_{l−1} W_l + b_l + s_{l+1} W_{l+1}ᵀ, s_0 := x. Those fixed points are the
stationary points of the energy

    E(s; x) = Σ_l Σ_i G(s_{l,i}) − Σ_l s_{l−1}ᵀ W_l s_l − Σ_l b_lᵀ s_l,    G' = σ⁻¹,

because ∂E/∂s_l = σ⁻¹(s_l) − h_l: a layered energy of the prototypical unit kinds
(:class:`~thermoep.energies.units.Prototypical`). G is convex, so minimising E over one parity
block with the other fixed is exactly s_l ← σ(h_l): the relaxation with step 1 is block
coordinate descent on E (it decreases E monotonically).

Compared with :class:`~thermoep.energies.LayeredHopfield` (interaction through ρ(s), self term
½‖s‖²) the two agree for the hard sigmoid and differ for tanh / sigmoid4: this is the model whose
published numbers the Fashion-MNIST benchmarks reproduce.
"""

from __future__ import annotations

from .layered import LayeredEnergy
from .units import _PROTOTYPICAL, Prototypical

PROTOTYPICAL_ACTIVATIONS = tuple(_PROTOTYPICAL)


class PrototypicalHopfield(LayeredEnergy):
    """Layered network with bilinear couplings and self term G = ∫σ⁻¹ (module docstring).

    Laborieux et al. update all layers at once (``Relaxation(mode="jacobi")``) from zero states;
    the default here is the even/odd (Gauss–Seidel) order, which decreases E monotonically,
    starting from σ(0) (inside the interval). The fixed points are the same.
    """

    def __init__(self, sizes, activation: str = "tanh", *, init_scale: float | None = None):
        if activation not in _PROTOTYPICAL:
            raise ValueError(f"activation must be one of {sorted(_PROTOTYPICAL)}, "
                             f"got {activation!r}")
        super().__init__(sizes, Prototypical(activation), init_scale=init_scale)
        self.activation = activation

    def extra_repr(self) -> str:
        return f"sizes={list(self.sizes)}, activation={self.activation!r}"


__all__ = ["PROTOTYPICAL_ACTIVATIONS", "PrototypicalHopfield"]

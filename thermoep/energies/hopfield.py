"""Continuous Hopfield energy of Scellier & Bengio (2017):

    E = Σ_l ½‖s_l‖² − Σ_l ρ(s_{l−1})ᵀ W_l ρ(s_l) − Σ_l b_lᵀ ρ(s_l),   ρ(s_0) := x,

ρ ∈ {tanh, hardsigmoid, sigmoid4}: a :class:`~thermoep.energies.layered.LayeredEnergy` of
those unit kinds.
"""

from __future__ import annotations

from .layered import LayeredEnergy

ACTIVATIONS = ("tanh", "hardsigmoid", "sigmoid4")


class LayeredHopfield(LayeredEnergy):
    """Layered continuous Hopfield network, ``LayeredHopfield([784, 256, 10], "tanh")``.
    Created in the current default dtype (``torch.set_default_dtype``)."""

    def __init__(self, sizes, activation: str = "tanh", *, init_scale: float | None = None):
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got "
                             f"{activation!r}")
        super().__init__(sizes, activation, init_scale=init_scale)
        self.activation = activation

    def extra_repr(self) -> str:
        return f"sizes={list(self.sizes)}, activation={self.activation!r}"

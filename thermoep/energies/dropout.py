"""Dropout of hidden units inside a layered energy (Srivastava et al. 2014, applied to EP).

For one mini-batch draw a mask m_l ~ Bernoulli(1 − p) per sample and hidden unit and let layer l
interact through a_l ⊙ ρ(s_l), a_l = m_l / (1 − p) ("inverted" dropout: at test time, without
masks, every unit's expected input is unchanged):

    E_a(s; x) = Σ_l c(s_l) − Σ_l (a_{l−1}⊙ρ(s_{l−1}))ᵀ W_l (a_l⊙ρ(s_l)) − Σ_l b_lᵀ (a_l⊙ρ(s_l)).

E_a is again a layered energy (ρ_l = a_l ⊙ ρ), so the free and nudged phases of the batch — which
share the mask — relax or sample the same thinned network, and every estimator returns the
gradient of that network's objective: EP's usual guarantees hold per mask, and averaging over
masks is dropout's. Dropped units decouple from the rest of the network (for the prototypical
tanh energy they settle at σ(0) = 0) and their weights get no gradient for that sample.

The output layer is never dropped (the cost reads it). Use as
``with energy.scaled_units(dropout.sample(energy, batch, generator)): g = estimator(...)``;
:func:`thermoep.training.fit` does this per batch when given ``dropout=``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .model import Energy


class UnitDropout:
    """Drop each hidden unit with probability ``p`` per sample (output layer kept)."""

    def __init__(self, p: float) -> None:
        p = float(p)
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropout probability must be in [0, 1), got {p}")
        self.p = p

    def __repr__(self) -> str:
        return f"UnitDropout(p={self.p})"

    @property
    def active(self) -> bool:
        return self.p > 0.0

    def sample(self, energy: Energy, batch: int,
               generator: torch.Generator | None = None) -> tuple[Tensor | None, ...] | None:
        """Scales a_l = m_l / (1 − p), ``[batch, *shape_l]`` per free layer, None for the output
        (None overall when p = 0)."""
        if not self.active:
            return None
        dev = generator.device if generator is not None else energy.device
        keep = 1.0 - self.p
        scales: list[Tensor | None] = []
        for i, layer in enumerate(energy.free_layers):
            if i == energy.output:
                scales.append(None)
                continue
            u = torch.rand(batch, *layer.shape, generator=generator, device=dev,
                           dtype=energy.dtype)
            scales.append(((u < keep).to(energy.dtype) / keep).to(energy.device))
        return tuple(scales)


__all__ = ["UnitDropout"]

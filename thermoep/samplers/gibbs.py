"""Block Gibbs sampling for binary layered energies.

Layers of equal parity do not interact, so one sweep draws the even block and then the odd block
from their exact conditionals (energy linear in each unit, cost separable over output units):

    p(s_{l,i} = 1 | rest) = σ((h_{l,i} − b·Δℓ_i) / T),   Δℓ_i = ℓ(s_{L,i}=1) − ℓ(s_{L,i}=0),

where the Δℓ term enters for the output layer only.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..costs import Cost
from ..energies.base import LayeredEnergy, State
from .base import MonteCarloSampler, Phase


class Gibbs(MonteCarloSampler):
    """Block Gibbs with ``chains`` chains per input; ``sweeps`` counts burn-in too."""

    def __init__(self, sweeps: int = 300, burn_in: int = 100, temperature: float = 1.0,
                 chains: int = 32, thin: int = 1, coupled: bool = False) -> None:
        super().__init__(steps=sweeps, burn_in=burn_in, temperature=temperature, chains=chains,
                         thin=thin, coupled=coupled)

    @property
    def sweeps(self) -> int:
        return self.steps

    def __repr__(self) -> str:
        return (f"Gibbs(sweeps={self.steps}, burn_in={self.burn_in}, "
                f"temperature={self.temperature}, chains={self.chains}, thin={self.thin}, "
                f"coupled={self.coupled})")

    def run(self, energy: LayeredEnergy, cost: Cost, x: Tensor, y: Tensor, nudge: float, *,
            init: State | None = None, generator=None, covariance: bool = False) -> Phase:
        if not energy.binary:
            raise TypeError(f"Gibbs needs binary units; {type(energy).__name__} is continuous "
                            "(use Langevin)")
        if nudge != 0.0 and not cost.separable:
            cost.flip_delta(None, y)  # raises the explanatory TypeError
        drive = energy.input_drive(x).detach()
        T, L = self.temperature, energy.num_layers
        delta = cost.flip_delta(torch.zeros_like(y), y) if nudge != 0.0 else None
        pos = self._initial_state(energy, x.shape[0], init, generator)

        def step(s: State) -> State:
            s = list(s)
            for block in energy.blocks:
                for i in block:
                    h = energy.layer_field(x, tuple(s), i, drive)
                    a = energy.unit_scale(i)
                    if a is not None:  # flipping s_i changes E by −a_i h_i
                        h = h * a
                    if i == L - 1 and delta is not None:
                        h = h - nudge * delta
                    p = torch.sigmoid(h / T)
                    u = torch.rand(p.shape, generator=generator, dtype=p.dtype, device=p.device)
                    s[i] = (u < p).to(p.dtype)
            return tuple(s)

        return self._run(energy, cost, x, y, nudge, pos, step, covariance=covariance,
                         info={"steps": float(self.steps)})

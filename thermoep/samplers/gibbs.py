"""Block Gibbs sampling over the even and odd layers.

Layers of equal parity do not interact, so one sweep updates the even block and then the odd
block given the other. Binary units are drawn from their exact conditionals (energy linear in
each unit, cost separable over output units):

    p(s_{l,i} = 1 | rest) = σ((h_{l,i} − b·Δℓ_i) / T),   Δℓ_i = ℓ(s_{L,i}=1) − ℓ(s_{L,i}=0),

where the Δℓ term enters for the output layer only. Continuous tanh units (LayeredHopfield) have
one-dimensional conditionals without a closed-form sampler; each block update is then a
Metropolis-within-Gibbs step with the unit's Laplace approximation as independence proposal
(``LayeredHopfield.conditional_update``): exact invariance, and nearly exact draws at small T,
where Langevin's O(η) discretisation bias is largest relative to the fluctuations.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..costs import Cost, SquaredError
from ..energies.base import LayeredEnergy, State
from ..energies.hopfield import LayeredHopfield
from .base import MonteCarloSampler, Phase, check_nudge


class Gibbs(MonteCarloSampler):
    """Block Gibbs with ``chains`` chains per input; ``sweeps`` counts burn-in too.

    ``conditional=True``: every kept sample's layers of the other parity than the output are
    replaced by their exact conditional means (``samplers/base.py``), which for these exact
    samples keeps every expectation and removes those units' own noise.
    """

    def __init__(self, sweeps: int = 300, burn_in: int = 100, temperature: float = 1.0,
                 chains: int = 32, thin: int = 1, coupled: bool = False,
                 conditional: bool = False) -> None:
        super().__init__(steps=sweeps, burn_in=burn_in, temperature=temperature, chains=chains,
                         thin=thin, coupled=coupled, conditional=conditional)

    @property
    def sweeps(self) -> int:
        return self.steps

    def __repr__(self) -> str:
        return (f"Gibbs(sweeps={self.steps}, burn_in={self.burn_in}, "
                f"temperature={self.temperature}, chains={self.chains}, thin={self.thin}, "
                f"coupled={self.coupled}, conditional={self.conditional})")

    def run(self, energy: LayeredEnergy, cost: Cost, x: Tensor, y: Tensor, nudge: float, *,
            init: State | None = None, generator=None, covariance: bool = False) -> Phase:
        if not energy.binary:
            return self._run_continuous(energy, cost, x, y, nudge, init, generator, covariance)
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

    def _run_continuous(self, energy, cost, x, y, nudge, init, generator, covariance) -> Phase:
        if not (isinstance(energy, LayeredHopfield) and energy.activation == "tanh"):
            raise TypeError(f"Gibbs needs binary units or the tanh units of LayeredHopfield "
                            f"(closed-form unit conditionals); got {energy!r} (use Langevin)")
        if nudge != 0.0 and not isinstance(cost, SquaredError):
            raise TypeError(f"Gibbs on continuous units nudges with SquaredError only (a "
                            f"quadratic cost keeps each output unit's conditional in closed form), "
                            f"got {cost!r}")
        check_nudge(energy, cost, nudge)
        drive = energy.input_drive(x).detach()
        T, L = self.temperature, energy.num_layers
        pos = self._initial_state(energy, x.shape[0], init, generator)
        counts = {"accepted": 0.0, "updates": 0, "sweep": 0}
        # the output's block first: a kept sweep then ends with the other block drawn given the
        # final state of its neighbours, whose conditional means (the conditional estimator's
        # inputs) share that update's mode
        blocks = sorted(energy.blocks, key=lambda block: (L - 1) not in block)
        means: dict[int, Tensor] = {}

        def step(s: State) -> State:
            s = list(s)
            exact = counts["sweep"] >= self.burn_in  # burn-in: approximate Gibbs draws
            for block in blocks:
                for i in block:
                    h = energy.layer_field(x, tuple(s), i, drive)
                    b = nudge if i == L - 1 else 0.0
                    want = exact and self.conditional and (L - 1 - i) % 2 == 1
                    s[i], accept, mean = energy.conditional_update(
                        i, h, T, s[i], generator, b, y, metropolis=exact, with_mean=want)
                    if want:
                        means[i] = mean
                    if exact:
                        counts["accepted"] += float(accept.to(h.dtype).mean())
                        counts["updates"] += 1
            counts["sweep"] += 1
            return tuple(s)

        with torch.no_grad():
            phase = self._run(energy, cost, x, y, nudge, pos, step, covariance=covariance,
                              info={"steps": float(self.steps)},
                              conditional_means=(lambda: means) if self.conditional else None)
        phase.info["acceptance"] = counts["accepted"] / max(counts["updates"], 1)
        return phase

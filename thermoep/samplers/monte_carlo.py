"""What the Markov-chain samplers (Langevin, Gibbs, NUTS/HMC) share: chains, burn-in, thinning,
the initial state, and ``run``, a convenience that samples one phase with default observers.

Chains are the leading dimension of every state tensor, ``[C, B, *shape]`` (C chains for each of
the B inputs), so thousands of independent chains run as one batched tensor program. The chains
are independent replicates: Monte-Carlo standard errors are the spread of per-chain means.
"""

from __future__ import annotations

from .. import _checks
from ..energies.model import State
from ..observers import CostMean, CostTrace, EnergyTrace, OutputMean
from .base import Target, prepare
from .loop import sample


class MonteCarloSampler:
    """Shared configuration of the Markov-chain samplers."""

    deterministic = False
    #: ``init(target, init=position)`` rebuilds the whole state (every cache) from a position,
    #: so a position may be moved between chains of other laws (replica exchange)
    state_from_position = True

    def __init__(self, *, steps: int, burn_in: int, temperature: float, chains: int,
                 thin: int = 1, coupled: bool = False) -> None:
        self.steps = _checks.positive_int("steps", steps)
        self.burn_in = _checks.positive_int("burn_in", burn_in, minimum=0)
        if self.burn_in >= self.steps:
            raise ValueError(f"burn_in must be smaller than steps (burn_in={burn_in}, "
                             f"steps={steps}): no sample would be kept")
        self.temperature = _checks.positive_float("temperature", temperature)
        self.chains = _checks.positive_int("chains", chains)
        self.thin = _checks.positive_int("thin", thin)
        #: Common random numbers: estimators restart every phase from the free phase's initial
        #: state and random stream, so Δs = s_β − s_0 loses the noise both phases share.
        self.coupled = bool(coupled)

    @property
    def num_samples(self) -> int:
        return len(range(self.burn_in, self.steps, self.thin))

    def steps_for(self, init) -> int:
        return self.steps

    def summary(self, state, means: dict) -> dict[str, float]:
        return dict(means)

    def initial_state(self, target: Target, init: State | None, generator) -> State:
        """``init`` copied to every chain (a deterministic state ``[B, *shape]``) or checked
        (``[C, B, *shape]``), else the energy's initial state."""
        energy = target.energy
        if init is None:
            return energy.init_state((self.chains, target.batch), generator)
        init = tuple(init)
        if init[0].dim() == energy.free_layers[0].ndim + 1:  # [B, *shape]: one per chain
            init = tuple(t.unsqueeze(0).expand(self.chains, *t.shape) for t in init)
        energy.check_state(init, target.batch)
        if init[0].shape[0] != self.chains:
            raise ValueError(f"init has {init[0].shape[0]} chains, sampler has {self.chains}")
        return tuple(t.detach().clone() for t in init)

    def run(self, energy, cost, x, y, nudge: float = 0.0, *, init: State | None = None,
            generator=None, observers=None):
        """Sample p_b for every input of the batch (``y``: class labels or targets). Default
        observers: the output and cost means and the cost and energy traces."""
        x, y = prepare(energy, cost, x, y)
        target = Target(energy, cost, x, y, float(nudge))
        if observers is None:
            observers = [OutputMean(), CostMean(), CostTrace(), EnergyTrace()]
        return sample(self, target, observers=observers, init=init, generator=generator)


__all__ = ["MonteCarloSampler"]

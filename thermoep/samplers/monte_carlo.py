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
                 thin: int = 1, coupled: bool = False, warm_steps: int | None = None,
                 warm_burn_in: int | None = None) -> None:
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
        #: Steps and burn-in of a phase started from another phase's state (``init`` given:
        #: the nudged phases of independent chains, the path integral's later nodes). Such a
        #: phase starts near its law, so it can burn in less and keep more, while the phase
        #: started from the energy's initial state keeps ``steps`` and ``burn_in``.
        if self.coupled and (warm_steps, warm_burn_in) != (None, None):
            raise ValueError("warm_steps / warm_burn_in set the phases started from another "
                             "phase's state; with coupled=True every phase restarts from the "
                             "free phase's start and random stream, so every phase runs steps "
                             "and burn_in: leave warm_steps and warm_burn_in unset")
        self.warm_steps = self.steps if warm_steps is None else _checks.positive_int(
            "warm_steps", warm_steps)
        self.warm_burn_in = self.burn_in if warm_burn_in is None else _checks.positive_int(
            "warm_burn_in", warm_burn_in, minimum=0)
        if self.warm_burn_in >= self.warm_steps:
            raise ValueError(f"warm_burn_in must be smaller than warm_steps (warm_burn_in="
                             f"{self.warm_burn_in}, warm_steps={self.warm_steps}): a "
                             "warm-started phase would keep no sample")

    @property
    def warm(self) -> bool:
        """Whether warm-started phases run another schedule than ``steps`` / ``burn_in``."""
        return (self.warm_steps, self.warm_burn_in) != (self.steps, self.burn_in)

    def _warm_repr(self, steps: str = "warm_steps") -> str:
        return (f", {steps}={self.warm_steps}, warm_burn_in={self.warm_burn_in}"
                if self.warm else "")

    @property
    def num_samples(self) -> int:
        return len(range(self.burn_in, self.steps, self.thin))

    def steps_for(self, init) -> int:
        """Steps of a phase: ``steps`` from the energy's initial state, ``warm_steps`` from a
        given ``init``."""
        return self.steps if init is None else self.warm_steps

    def burn_in_for(self, init) -> int:
        """Discarded steps of a phase: ``burn_in``, or ``warm_burn_in`` from a given ``init``."""
        return self.burn_in if init is None else self.warm_burn_in

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

"""Shared machinery of the estimators: run the phases, combine them, report statistics.

An estimator is a finite-difference stencil in the nudge b over phase expectations
G(b) = E_{p_b}[∂θE] (batch mean): ĝ = Σ_k c_k G(b_k). It runs each phase through the shared
sampler loop with the observers it needs (:class:`~thermoep.observers.MeanParamGrad` and the
prediction read-outs; the path integral asks for :class:`~thermoep.observers.CovarianceWithCost`)
and combines what they observed. The free phase (b = 0) always runs first — it gives the
prediction and the warm start of every nudged phase. With a Monte-Carlo sampler the chains are
independent replicates, so the same stencil applied per chain gives C independent estimates
whose spread is the standard error.

``rao_blackwell``: ``"conditional"`` (average the units of the layers without the output's
colour over their exact conditional law) or ``"step"`` (average over the Gaussian noise of an
unadjusted Langevin step); see :mod:`thermoep.observers.smoothing`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping

import torch
from torch import Tensor
from torch.nn.utils import parametrize

from .. import _checks
from ..costs import Cost
from ..energies.model import Energy
from ..gradient import Gradient
from ..observers import CostMean, CostTrace, MeanParamGrad, OutputMean, smoother
from ..samplers.base import Phase, Target, prepare
from ..samplers.loop import sample
from ..samplers.relax import Relaxation
from ..schedules import bernoulli


def chain_diagnostics(phase: Phase, prefix: str) -> dict[str, float]:
    """ESS and split R-hat of the batch-averaged cost trace (pyro.ops.stats)."""
    out: dict[str, float] = {}
    for k, v in phase.info.items():
        out[f"{prefix}_{k}"] = float(v)
    tr = phase.trace.get("cost")
    if tr is None or tr.shape[0] < 2 or tr.shape[1] < 4:
        return out
    from pyro.ops.stats import effective_sample_size, split_gelman_rubin

    tr = tr.detach().double().cpu()
    if float(tr.std()) == 0.0:
        return out
    out[f"{prefix}_ess"] = float(effective_sample_size(tr, chain_dim=0, sample_dim=1))
    out[f"{prefix}_rhat"] = float(split_gelman_rubin(tr, chain_dim=0, sample_dim=1))
    return out


class StandardErrors(Mapping):
    """Standard error of the mean over the leading (chain) dimension of each replicate tensor,
    times ``factor``; computed on first access (training steps never read it, and the std over
    chains of every weight matrix would otherwise cost as much as the sampling)."""

    def __init__(self, replicates: dict[str, Tensor], factor: float = 1.0) -> None:
        self._replicates, self._factor = replicates, abs(factor)
        self._cache: dict[str, Tensor] = {}

    def __getitem__(self, key: str) -> Tensor:
        if key not in self._cache:
            v = self._replicates[key]
            C = v.shape[0]
            se = (v.std(0, unbiased=True) / math.sqrt(C) if C > 1
                  else torch.full_like(v[0], math.nan))
            self._cache[key] = se * self._factor if self._factor != 1.0 else se
        return self._cache[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._replicates)

    def __len__(self) -> int:
        return len(self._replicates)

    def scaled(self, factor: float) -> StandardErrors:
        return StandardErrors(self._replicates, self._factor * factor)

    def __repr__(self) -> str:
        norms = ", ".join(f"{k}: {float(self[k].norm()):.3g}" for k in self)
        return f"StandardErrors(‖se‖ per parameter: {norms})"


def standard_error(replicates: dict[str, Tensor]) -> StandardErrors:
    """Standard error of the mean over the leading (chain) dimension (lazy mapping)."""
    return StandardErrors(replicates)


class Estimator:
    """Base class. Subclasses set ``self.beta`` and implement :meth:`stencil`."""

    name = "estimator"
    #: the estimator is meant for a Monte-Carlo sampler (T > 0): runs default to one
    stochastic = False

    def __init__(self, sampler=None, beta: float = 1.0, *, beta_schedule=None,
                 rao_blackwell: str | None = None) -> None:
        self.sampler = Relaxation() if sampler is None else sampler
        if not (hasattr(self.sampler, "init") and hasattr(self.sampler, "step")):
            raise TypeError(f"sampler must be a thermoep sampler (init and step), got "
                            f"{type(sampler).__name__}")
        self.beta = _checks.finite_float("beta", beta, allow_zero=False)
        #: optional :class:`~thermoep.schedules.BetaSchedule`; the training loop calls set_epoch
        self.beta_schedule = beta_schedule
        self.rao_blackwell = rao_blackwell
        self.smoother = smoother(rao_blackwell)
        if self.smoother is not None:
            if self.deterministic:
                raise ValueError(f"rao_blackwell={rao_blackwell!r} averages Monte-Carlo samples; "
                                 "the deterministic relaxation has none (use a Monte-Carlo "
                                 "sampler)")
            self.smoother.check_sampler(self.sampler)
        #: the estimator's own coin (hybrid choices, random signs of β), kept apart from the
        #: sampler's and the batch order's stream: two strategies trained with the same seed
        #: see the same batches in the same order (common random numbers across strategies)
        self.rng = torch.Generator().manual_seed(0)
        #: () -> extra observers for every phase (diagnostics: energy traces, per-chain outputs)
        self.extra_observers = None

    @property
    def deterministic(self) -> bool:
        return bool(getattr(self.sampler, "deterministic", False))

    def seed(self, seed: int) -> None:
        """Seed the estimator's own coin (:attr:`rng`)."""
        self.rng.manual_seed(int(seed))

    def state_dict(self) -> dict:
        """What a checkpoint needs to resume this estimator exactly (its coin, any state)."""
        return {"rng": self.rng.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.rng.set_state(state["rng"])

    def set_epoch(self, epoch: int, epochs: int) -> None:
        """Called by the training loop before each epoch (0-based)."""
        if self.beta_schedule is not None:
            self.beta = float(self.beta_schedule(epoch, epochs))

    def epoch_record(self) -> dict[str, float]:
        """Per-epoch values the results file records (β, p_std, ...)."""
        return {"beta": abs(self.beta) if self._random_sign else self.beta}

    @property
    def _random_sign(self) -> bool:
        return bool(getattr(self.beta_schedule, "random_sign", False))

    def _draw_sign(self) -> None:
        if self._random_sign:
            self.beta = abs(self.beta) * (1.0 if bernoulli(0.5, self.rng) else -1.0)

    def __repr__(self) -> str:
        rb = "" if self.rao_blackwell is None else f", rao_blackwell={self.rao_blackwell!r}"
        return f"{type(self).__name__}(sampler={self.sampler!r}, beta={self.beta}{rb})"

    @property
    def temperature(self) -> float:
        return float(self.sampler.temperature)

    def stencil(self) -> list[tuple[float, float]]:
        """[(b_k, c_k)]: the estimate is Σ_k c_k G(b_k). b = 0 may appear with its weight."""
        raise NotImplementedError

    def check(self, energy: Energy, cost: Cost) -> None:
        """Raise now what the first batch would raise: the sampler's requirements on the
        energy and the cost, the statistics' (Rao–Blackwellisation), every nudge's equilibrium."""
        from ..samplers.base import check_nudge

        if cost.named_trainables() and not self.deterministic:
            raise TypeError(
                f"{cost!r} has parameters of its own; the Monte-Carlo samplers do not estimate "
                "their gradient: train it with the deterministic relaxation (T = 0)")
        check = getattr(self.sampler, "check", None)
        if check is not None:
            check(energy, cost)
        if self.smoother is not None:
            self.smoother.check(energy, cost)
        if self.deterministic or not energy.discrete:
            for b in self.nudges():
                check_nudge(energy, cost, b)

    def nudges(self) -> list[float]:
        """Every nudge b a call may run (for checks before training)."""
        return [b for b, _ in self.stencil()]

    # -- running phases ----------------------------------------------------------------------------
    def _target(self, energy: Energy, cost: Cost, x, y) -> Target:
        if not isinstance(energy, Energy):
            raise TypeError(f"energy must be a thermoep Energy, got {type(energy).__name__}")
        _checks.finite_parameters(energy)
        x, y = prepare(energy, cost, x, y)
        return Target(energy, cost, x, y)

    def observers(self, free: bool, covariance: bool = False) -> list:
        """The observers of one phase: the mean parameter gradient (or, for the path
        integral's nodes, the covariance with the cost), the prediction read-out, the free
        phase's cost, and the cost trace of Monte-Carlo phases (ESS, R-hat)."""
        from ..observers import CovarianceWithCost

        sm = self.smoother
        obs = [CovarianceWithCost(sm) if covariance else MeanParamGrad(sm), OutputMean()]
        if free:
            obs.append(CostMean(sm))
        if not self.deterministic:
            obs.append(CostTrace(sm))
        if self.extra_observers is not None:
            obs += list(self.extra_observers())
        return obs

    @property
    def coupled(self) -> bool:
        return bool(getattr(self.sampler, "coupled", False))

    def _phases(self, target: Target, nudges, generator, covariance=False):
        """Run the free phase, then each nudge in order.

        Independent (default): each nudged phase warm-starts from the previous phase's state
        (the free phase for one-sided/centered). Coupled: every phase restarts from the same
        initial state and the same random stream as the free phase (common random numbers).
        """
        if self.coupled:
            if generator is None:
                generator = torch.Generator(device=target.energy.device).manual_seed(
                    int(torch.randint(0, 2**62, (1,))))
            start = generator.get_state()
        free = sample(self.sampler, target, observers=self.observers(True), generator=generator)
        phases, prev = {0.0: free}, free
        for b in nudges:
            if b == 0.0 or b in phases:
                continue
            if self.coupled:
                generator.set_state(start)
                init = None
            else:
                init = prev.state if covariance else free.state
            phases[b] = sample(self.sampler, target.at(b), observers=self.observers(
                False, covariance), init=init, generator=generator)
            prev = phases[b]
        return free, phases

    def __call__(self, energy: Energy, cost: Cost, x: Tensor, y: Tensor, *,
                 generator: torch.Generator | None = None) -> Gradient:
        target = self._target(energy, cost, x, y)
        self._draw_sign()
        with parametrize.cached():  # one effective (e.g. spectrally normalised) weight a batch
            free, phases = self._phases(target, [b for b, _ in self.stencil()], generator)
        return self._combine(phases, free)

    def _combine(self, phases: dict[float, Phase], free: Phase) -> Gradient:
        stencil = self.stencil()
        G = {b: phases[b]["param_grad"] for b, _ in stencil}
        grads = {k: sum(c * G[b].mean[k] for b, c in stencil) for k in G[stencil[0][0]].mean}
        stats = self._phase_stats(phases)
        if free["param_grad"].chains is not None:
            reps = {k: sum(c * G[b].chains[k] for b, c in stencil) for k in grads}
            stats["se"] = standard_error(reps)
        nudged = sum(1 for b, _ in stencil if b != 0.0)
        return self._gradient(grads, nudged, stats, free, phases)

    def _gradient(self, grads, nudged, stats, free: Phase, phases) -> Gradient:
        return Gradient(grads, nudged, stats, loss=float(free.cost.mean()), output=free.output,
                        phases=phases)

    def _phase_stats(self, phases: dict[float, Phase]) -> dict:
        stats: dict = {"beta": self.beta, "temperature": self.temperature}
        for b, ph in phases.items():
            tag = "free" if b == 0.0 else f"nudge{b:+.4g}"
            stats.update(chain_diagnostics(ph, tag))
        return stats

"""Shared machinery of the estimators: run the phases, combine them, report statistics.

An estimator is a finite-difference stencil in the nudge b over phase expectations
G(b) = E_{p_b}[∂θE] (batch mean): ĝ = Σ_k c_k G(b_k). It runs each phase through the shared
sampler loop with the observers it needs (:class:`~thermoep.observers.MeanParamGrad` and the
prediction read-outs; the path integral asks for :class:`~thermoep.observers.CovarianceWithCost`)
and combines what they observed. The free phase (b = 0) always runs first — it gives the
prediction and the warm start of every nudged phase. With a Monte-Carlo sampler the chains are
independent replicates, so the same stencil applied per chain gives C independent estimates
whose spread is the standard error.

The objective itself, J_β = F_β − F_0 = ∫₀^β E_{p_b}[ℓ] db (seed ep-without-limits Lemma 3.3,
dF_b/db = E_{p_b}[ℓ]), comes from the same phases: a quadrature rule {(b_k, w_k)} in b gives
J_β ≈ Σ_k w_k E_{b_k}[ℓ], and each phase's cost trace already holds E_{b_k}[ℓ] per chain. A chain
is one independent replicate across every phase it runs in (warm starts carry a chain's own
state, never another's), so Σ_k w_k ℓ̄_{c,k} per chain c gives C independent estimates of the
batch mean of J_β, and their spread its standard error (:func:`objective_estimate`; the path
integral's Gauss–Legendre nodes, finite-nudge's ``objective_nodes``). The estimate goes into
``stats["objective"]`` and ``stats["objective_se"]``; at T = 0 (one replicate) the standard
error is NaN and only the quadrature's error remains.

``rao_blackwell``: ``"conditional"`` (average the units of the layers without the output's
colour over their exact conditional law) or ``"step"`` (average over the Gaussian noise of an
unadjusted Langevin step); see :mod:`thermoep.observers.smoothing`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator, Mapping

import numpy as np
import torch
from torch import Tensor
from torch.nn.utils import parametrize

from .. import _checks
from ..costs import Cost
from ..energies.model import Energy
from ..gradient import Gradient, Stats
from ..observers import CostMean, CostTrace, MeanParamGrad, OutputMean, smoother
from ..observers.base import Lazy
from ..samplers.base import Phase, Target, prepare
from ..samplers.loop import sample, sample_stacked
from ..samplers.relax import Relaxation
from ..schedules import bernoulli


def phase_facts(phase: Phase, prefix: str) -> dict[str, float]:
    """The sampler's facts about a phase (``phase.info``: acceptance, residual, ...) as
    ``{prefix}_{name}`` floats."""
    return {f"{prefix}_{k}": float(v) for k, v in phase.info.items()}


def chain_mixing(phase: Phase, prefix: str) -> dict[str, float]:
    """ESS and split R-hat of the batch-averaged cost trace (pyro.ops.stats), as
    ``{prefix}_ess`` and ``{prefix}_rhat``; empty without a trace of ≥ 2 chains and ≥ 4 samples
    that varies."""
    tr = phase.trace.get("cost")
    if tr is None or tr.shape[0] < 2 or tr.shape[1] < 4:
        return {}
    from pyro.ops.stats import effective_sample_size, split_gelman_rubin

    tr = tr.detach().double().cpu()
    if float(tr.std()) == 0.0:
        return {}
    return {f"{prefix}_ess": float(effective_sample_size(tr, chain_dim=0, sample_dim=1)),
            f"{prefix}_rhat": float(split_gelman_rubin(tr, chain_dim=0, sample_dim=1))}


def _weighted_sum(pairs) -> Tensor:
    """Σ c_k t_k accumulated in place: one pass per term (Python's ``sum`` adds a ``0 + t``
    copy, and ``c * t`` then ``+`` two passes, over tensors as large as C × 784 × 256)."""
    acc = None
    for c, t in pairs:
        if acc is None:
            acc = t * c
        else:
            acc.add_(t, alpha=c)
    return acc


def chain_costs(phase: Phase) -> Tensor:
    """E_b[ℓ] per chain, batch-averaged, ``[C]``: the mean of the phase's cost trace over its kept
    states (``[1]`` for a deterministic phase, from its cost mean)."""
    tr = phase.observed.get("cost_trace")
    if tr is not None:
        return tr.mean(1)
    if "cost" in phase.observed:
        return phase.cost.mean().reshape(1)
    raise KeyError(f"the phase at b = {phase.nudge:g} observed no cost (CostTrace or CostMean); "
                   f"observed: {sorted(phase.observed)}")


def objective_estimate(phases: Mapping[float, Phase], rule) -> tuple[float, float]:
    """J_β ≈ Σ_k w_k E_{b_k}[ℓ] (batch mean) from the phases at the rule's nodes, and its standard
    error over the chains (module docstring). ``rule``: [(b_k, w_k)], weights summing to β.

    Returns ``(value, se)``; ``se`` is NaN with a single replicate (T = 0, or one chain).
    """
    reps = None
    for b, w in rule:
        term = w * chain_costs(phases[b]).double()
        reps = term if reps is None else reps + term
    C = reps.shape[0]
    value = float(reps.mean())
    se = float(reps.std(unbiased=True)) / math.sqrt(C) if C > 1 else math.nan
    return value, se


def gauss_legendre(beta: float, n: int) -> list[tuple[float, float]]:
    """n-point Gauss–Legendre rule on [0, β]: [(b_k, w_k)], weights summing to β; exact for
    polynomials of degree ≤ 2n − 1. The endpoints are not nodes."""
    t, w = np.polynomial.legendre.leggauss(n)
    return [(float(beta * (tk + 1) / 2), float(beta * wk / 2)) for tk, wk in zip(t, w, strict=True)]


def gauss_lobatto(beta: float, n: int) -> list[tuple[float, float]]:
    """Gauss–Lobatto rule on [0, β] with both endpoints and ``n`` interior nodes (m = n + 2
    points): exact for polynomials of degree ≤ 2m − 3 = 2n + 1. On [−1, 1] the interior nodes
    are the roots of P′_{m−1} and the weights are 2 / (m(m − 1) P_{m−1}(t_k)²) (2 / (m(m − 1))
    at ±1). n = 0 is the trapezoid rule."""
    n = int(n)
    m = n + 2
    P = np.polynomial.legendre.Legendre.basis(m - 1)
    inner = np.sort(P.deriv().roots().real) if n > 0 else np.zeros(0)
    t = np.concatenate([[-1.0], inner, [1.0]])
    w = 2.0 / (m * (m - 1) * P(t) ** 2)
    return [(float(beta * (tk + 1) / 2), float(beta * wk / 2)) for tk, wk in zip(t, w, strict=True)]


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

    @property
    def reads_free_gradient(self) -> bool:
        """Whether the estimate uses E_0[∂θE] (the free phase's parameter gradient); when it
        does not, the free phase observes its prediction and cost only."""
        return True

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
        phase's cost (every phase's at T = 0 when the objective is estimated), and the cost
        trace of Monte-Carlo phases (ESS, R-hat, and E_b[ℓ] per chain for the objective)."""
        from ..observers import CovarianceWithCost

        sm = self.smoother
        obs = [OutputMean()]
        if covariance:
            obs.insert(0, CovarianceWithCost(sm))
        elif not free or self.reads_free_gradient:
            obs.insert(0, MeanParamGrad(sm))
        elif not getattr(sm, "smooths_cost", True):
            sm = None  # the phase's observers read the cost alone, which sm leaves as drawn
        if free or (self.deterministic and self.objective_rule() is not None):
            obs.append(CostMean(sm))
        if not self.deterministic:
            obs.append(CostTrace(sm))
        if self.extra_observers is not None:
            obs += list(self.extra_observers())
        return obs

    @property
    def coupled(self) -> bool:
        return bool(getattr(self.sampler, "coupled", False))

    def cost_observers(self) -> list:
        """The observers of a phase run for the objective alone: its cost (a trace per chain at
        T > 0, the mean at T = 0)."""
        sm = self.smoother
        return [CostMean(sm)] if self.deterministic else [CostTrace(sm)]

    def objective_rule(self) -> list[tuple[float, float]] | None:
        """The quadrature [(b_k, w_k)] in b of J_β = ∫₀^β E_{p_b}[ℓ] db over phases this
        estimator runs (weights summing to β), or None when it does not estimate J_β."""
        return None

    def _phases(self, target: Target, nudges, generator, covariance=False, cost_only=()):
        """Run the free phase, then each nudge in order, then the ``cost_only`` nudges (the
        objective's extra nodes, observed by :meth:`cost_observers` alone).

        Independent (default): each nudged phase warm-starts from the previous phase's state
        (the free phase for one-sided/centered). Coupled: every phase restarts from the same
        initial state and the same random stream as the free phase (common random numbers).
        """
        if self.coupled:
            if generator is None:
                generator = torch.Generator(device=target.energy.device).manual_seed(
                    int(torch.randint(0, 2**62, (1,))))
            if getattr(self.sampler, "stacks_nudges", False) and target.clamp is None:
                return self._stacked_phases(target, nudges, generator, covariance, cost_only)
            start = generator.get_state()
        free = sample(self.sampler, target, observers=self.observers(True), generator=generator)
        phases, prev = {0.0: free}, free
        nudges = list(nudges)
        for b in nudges + [b for b in cost_only if b not in nudges]:
            if b == 0.0 or b in phases:
                continue
            if self.coupled:
                generator.set_state(start)
                init = None
            else:
                init = prev.state if covariance else free.state
            observers = (self.observers(False, covariance) if b in nudges
                         else self.cost_observers())
            phases[b] = sample(self.sampler, target.at(b), observers=observers, init=init,
                               generator=generator)
            prev = phases[b]
        return free, phases

    def _stacked_phases(self, target, nudges, generator, covariance, cost_only):
        """Coupled phases as one tensor program (:func:`~thermoep.samplers.loop.sample_stacked`):
        the same initial state and random draws as running them in turn, one step's overhead."""
        nudges = list(nudges)
        ladder = [0.0] + [b for b in dict.fromkeys(nudges + list(cost_only)) if b != 0.0]
        observers = [self.observers(True)] + [
            self.observers(False, covariance) if b in nudges else self.cost_observers()
            for b in ladder[1:]]
        run = sample_stacked(self.sampler, target.stacked(ladder), observers,
                             generator=generator)
        phases = dict(zip(ladder, run, strict=True))
        return phases[0.0], phases

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
        grads = {k: _weighted_sum((c, G[b].mean[k]) for b, c in stencil)
                 for k in G[stencil[0][0]].mean}
        stats = self._phase_stats(phases)
        if free["param_grad"].chains is not None:
            # lazily: only a standard error reads the per-chain replicates
            stats["se"] = standard_error(Lazy(grads, lambda k: _weighted_sum(
                (c, G[b].chains[k]) for b, c in stencil)))
        nudged = sum(1 for b, _ in stencil if b != 0.0)
        return self._gradient(grads, nudged, stats, free, phases)

    def _gradient(self, grads, nudged, stats, free: Phase, phases) -> Gradient:
        return Gradient(grads, nudged, stats, loss=float(free.cost.mean()), output=free.output,
                        phases=phases)

    def _phase_stats(self, phases: dict[float, Phase]) -> Stats:
        stats = Stats(beta=self.beta, temperature=self.temperature)
        for b, ph in phases.items():
            tag = "free" if b == 0.0 else f"nudge{b:+.4g}"
            stats.update(phase_facts(ph, tag))
            # computed when read: training steps never read them
            stats.defer(functools.partial(chain_mixing, ph, tag), (f"{tag}_ess", f"{tag}_rhat"))
        rule = self.objective_rule()
        if rule is not None:
            stats["objective"], stats["objective_se"] = objective_estimate(phases, rule)
        return stats

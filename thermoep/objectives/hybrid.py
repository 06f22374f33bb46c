"""Hybrid estimators (seed hybrid-ep §2.3, §3.1): per mini-batch, the one-sided ("std") update
with probability p_std, the accurate one otherwise (centered, or the higher-order stencil):

    E[ĝ_hyb] = p ĝ_std(β) + (1 − p) ĝ_acc(β),   bias O(pβ + β²) with centered (eq. 12–13).

``Hybrid`` takes p_std from a schedule over epochs (cosine eq. 14, inverse cosine eq. 15,
stochastic p = ½, or a fixed p). ``AdaptiveHybrid`` sets p_std from the measured disagreement
between the one-sided and centered estimates: on a fraction ``probe`` of batches it runs the
centered phases, which contain the one-sided estimate for free ((G(β) − G(0))/β), measures
d = 1 − cos(ĝ_std, ĝ_cep), keeps an exponential average d̄ and sets p_std = clip(1 − d̄/τ, 0, 1):
one-sided updates are spent only while they track the centered ones.
"""

from __future__ import annotations

import math

import torch

from .. import _checks
from ..gradient import Gradient
from ..schedules import bernoulli, p_schedule
from .base import Estimator
from .centered import Centered
from .higher_order import HigherOrder
from .one_sided import OneSided

ACCURATE = {"centered": Centered, "higher-order": HigherOrder}


def _one_sided(phases, free, b: float) -> dict:
    """(G(b) − G(0)) / b from phases already run (the one-sided stencil)."""
    g0, gb = free["param_grad"].mean, phases[b]["param_grad"].mean
    return {k: (gb[k] - g0[k]) / b for k in g0}


class Hybrid(Estimator):
    """One-sided with probability p_std(epoch), else the accurate estimator."""

    name = "hybrid"

    def __init__(self, sampler=None, beta: float = 0.2, *, schedule="cosine",
                 accurate: str = "centered", beta_schedule=None) -> None:
        super().__init__(sampler, beta, beta_schedule=beta_schedule)
        if accurate not in ACCURATE:
            raise ValueError(f"accurate must be one of {sorted(ACCURATE)}, got {accurate!r}")
        self.schedule = p_schedule(schedule)
        self.schedule_name = schedule if isinstance(schedule, str) else "fixed"
        self.accurate = accurate
        self.p_std = float(self.schedule(0, 1))
        self._std = OneSided(self.sampler, self.beta)
        self._acc = ACCURATE[accurate](self.sampler, self.beta)

    def __repr__(self) -> str:
        return (f"Hybrid(sampler={self.sampler!r}, beta={self.beta}, "
                f"schedule={self.schedule_name!r}, accurate={self.accurate!r})")

    def set_epoch(self, epoch: int, epochs: int) -> None:
        super().set_epoch(epoch, epochs)
        self.p_std = float(self.schedule(epoch, epochs))

    def epoch_record(self) -> dict[str, float]:
        return {**super().epoch_record(), "p_std": self.p_std}

    def nudges(self):
        std, acc = self._members()
        return sorted(set(std.nudges()) | set(acc.nudges()))

    def _members(self):
        self._std.beta = self._acc.beta = self.beta
        return self._std, self._acc

    def __call__(self, energy, cost, x, y, *, generator: torch.Generator | None = None):
        self._draw_sign()  # a random sign of β acts on the one-sided member
        std, acc = self._members()
        use_std = bernoulli(self.p_std, self.rng)
        g = (std if use_std else acc)(energy, cost, x, y, generator=generator)
        g.stats["used"] = "one-sided" if use_std else self.accurate
        g.stats["p_std"] = self.p_std
        return g

    def expected_gradient(self, energy, cost, x, y, *, generator=None) -> Gradient:
        """E over the Bernoulli choice: p ĝ_std + (1 − p) ĝ_acc (for bias analysis, eq. 11)."""
        std, acc = self._members()
        a = std(energy, cost, x, y, generator=generator)
        b = acc(energy, cost, x, y, generator=generator)
        p = self.p_std
        return Gradient({k: p * a[k] + (1 - p) * b[k] for k in a},
                        nudged_phases=0, stats={"p_std": p})


class AdaptiveHybrid(Estimator):
    """p_std from the measured one-sided/centered disagreement (see module docstring)."""

    name = "adaptive-hybrid"

    def __init__(self, sampler=None, beta: float = 0.2, *, probe: float = 0.1,
                 tolerance: float = 0.02, smoothing: float = 0.8, beta_schedule=None) -> None:
        super().__init__(sampler, beta, beta_schedule=beta_schedule)
        self.probe = _checks.probability("probe", probe)
        if self.probe == 0.0:
            raise ValueError("probe must be > 0: the adaptive hybrid must measure something")
        self.tolerance = _checks.positive_float("tolerance", tolerance)
        self.smoothing = _checks.probability("smoothing", smoothing)
        self.disagreement = math.nan
        self.p_std = 0.0  # start accurate until the first measurement
        self.probes = 0

    def epoch_record(self) -> dict[str, float]:
        return {**super().epoch_record(), "p_std": self.p_std,
                "disagreement": self.disagreement}

    def state_dict(self) -> dict:
        return {**super().state_dict(), "disagreement": self.disagreement,
                "p_std": self.p_std, "probes": self.probes}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.disagreement = float(state["disagreement"])
        self.p_std, self.probes = float(state["p_std"]), int(state["probes"])

    def _update(self, d: float) -> None:
        self.disagreement = d if math.isnan(self.disagreement) else (
            self.smoothing * self.disagreement + (1 - self.smoothing) * d)
        self.p_std = min(max(1.0 - self.disagreement / self.tolerance, 0.0), 1.0)

    def __call__(self, energy, cost, x, y, *, generator: torch.Generator | None = None):
        target = self._target(energy, cost, x, y)
        b = abs(self.beta)
        if self.probes == 0 or bernoulli(self.probe, self.rng):
            free, phases = self._phases(target, [b, -b], generator)
            std = _one_sided(phases, free, b)
            cep = self._combine(phases, free)  # self.stencil() is the centered one
            self._update(1.0 - cep.cosine(std))
            self.probes += 1
            cep.stats.update(used="centered (probe)", p_std=self.p_std,
                             disagreement=self.disagreement)
            return cep
        use_std = bernoulli(self.p_std, self.rng)
        nudges = [b] if use_std else [b, -b]
        free, phases = self._phases(target, nudges, generator)
        if use_std:
            g = self._gradient(_one_sided(phases, free, b), 1, self._phase_stats(phases), free,
                               phases)
        else:
            g = self._combine(phases, free)
        g.stats.update(used="one-sided" if use_std else "centered", p_std=self.p_std)
        return g

    def stencil(self):
        b = abs(self.beta)
        return [(-b, -0.5 / b), (b, 0.5 / b)]

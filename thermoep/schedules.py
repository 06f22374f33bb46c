"""Schedules over training: the one-sided probability p_std(e) of the hybrid estimators
(seed hybrid-ep §3.1) and the nudging strength β(e) (seed fixed-beta-beats-annealing).

Epochs are counted from 0 to E − 1 (``e / E`` runs over [0, 1)).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from . import _checks


def cosine(epoch: int, epochs: int) -> float:
    """p_std(e) = ½(1 + cos(πe/E)): one-sided early, centered late (hybrid-ep eq. 14)."""
    return 0.5 * (1.0 + math.cos(math.pi * epoch / epochs))


def inverse_cosine(epoch: int, epochs: int) -> float:
    """p_std(e) = ½(1 − cos(πe/E)): centered early, one-sided late (hybrid-ep eq. 15)."""
    return 0.5 * (1.0 - math.cos(math.pi * epoch / epochs))


def stochastic(epoch: int, epochs: int) -> float:
    """p_std = ½ throughout: the two estimators interleaved per batch (hybrid-ep §3.1)."""
    return 0.5


def fixed(p: float) -> Callable[[int, int], float]:
    p = _checks.probability("p_std", p)
    return lambda epoch, epochs: p


P_SCHEDULES: dict[str, Callable[[int, int], float]] = {
    "cosine": cosine, "inverse-cosine": inverse_cosine, "stochastic": stochastic,
}


def p_schedule(spec) -> Callable[[int, int], float]:
    """A name from P_SCHEDULES, a probability, or a callable (epoch, epochs) -> p."""
    if callable(spec):
        return spec
    if isinstance(spec, str):
        if spec not in P_SCHEDULES:
            raise ValueError(f"unknown p_std schedule {spec!r}; choose one of "
                             f"{sorted(P_SCHEDULES)} or give a probability")
        return P_SCHEDULES[spec]
    return fixed(spec)


class BetaSchedule:
    """β(e) for epoch e of E; ``random_sign`` flips the sign of β per batch."""

    random_sign = False

    def __call__(self, epoch: int, epochs: int) -> float:
        raise NotImplementedError


class FixedBeta(BetaSchedule):
    """β constant (seed fixed-beta-beats-annealing: the stable choice)."""

    def __init__(self, beta: float) -> None:
        self.beta = _checks.finite_float("beta", beta, allow_zero=False)

    def __call__(self, epoch, epochs):
        return self.beta


class LinearAnneal(BetaSchedule):
    """β(e) linear from ``start`` (first epoch) to ``end`` (last epoch)."""

    def __init__(self, start: float, end: float) -> None:
        self.start = _checks.finite_float("beta start", start, allow_zero=False)
        self.end = _checks.finite_float("beta end", end, allow_zero=False)
        if (self.start > 0) != (self.end > 0):
            raise ValueError(f"a β anneal must not cross 0, got {start} -> {end}")

    def __call__(self, epoch, epochs):
        frac = epoch / (epochs - 1) if epochs > 1 else 1.0
        return self.start + (self.end - self.start) * frac


class RandomSign(FixedBeta):
    """|β| fixed, sign drawn per batch (Laborieux et al. 2021): one-sided estimates whose
    first-order biases cancel on average."""

    random_sign = True


BETA_SCHEDULES = {"fixed": FixedBeta, "linear": LinearAnneal, "random-sign": RandomSign}


def bernoulli(p: float, generator: torch.Generator | None) -> bool:
    """One draw of a Bernoulli(p) from ``generator`` (CPU or device generator)."""
    device = generator.device if generator is not None else "cpu"
    return bool(torch.rand((), generator=generator, device=device) < p)

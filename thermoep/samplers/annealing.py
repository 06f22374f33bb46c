"""log Z_b for models too large to enumerate: annealed importance sampling (Neal 2001).

Target: p_b(s) ∝ exp(−U(s)/T), U = E(s; x) + b·ℓ(s_L, y), Z_b = Σ_s exp(−U(s)/T). The anneal
runs through the tempered laws

    p_λ(s) ∝ f_λ(s) = exp(−λ U(s)/T),   0 = λ_0 < λ_1 < … < λ_K = 1,

which for discrete (binary, spin) units is the simplest correct design: p_λ is the Boltzmann law
of the same energy and nudge at temperature T/λ, so the library's own block-Gibbs transition at
temperature T/λ_k leaves it invariant, and the base λ = 0 is the uniform law over the support,
which is drawn exactly and has Z_0 = Π_units |values| (log Z_0 = n log 2 for n binary units). It
is the interpolation E_λ = λ(E + bℓ) + (1 − λ) E_base with the base energy E_base = 0 (every bias,
self and coupling term switched off), so no interpolated energy has to be built. Per chain c:

    s_0 ~ p_0,   log w_c = Σ_{k=1}^{K} −(λ_k − λ_{k−1}) U(s_{k−1})/T,   s_k ~ K_{λ_k}(s_{k−1}, ·),

with K_λ ``sweeps`` Gibbs sweeps at temperature T/λ. Then E[w_c] = Z_b / Z_0 exactly, and

    log Ẑ_b = log Z_0 + log( (1/C) Σ_c w_c )          (a log-mean-exp over the chains),

with the delta-method standard error SE(log Ẑ) ≈ sd_c(w_c) / (√C · mean_c(w_c)). Ẑ is unbiased
for Z, so log Ẑ is biased *low* by Jensen's inequality (E[log Ẑ] ≤ log Z; the bias is about
−Var(Ẑ)/(2Z²) ≈ −SE²/2), and the delta-method SE is reliable only while the weights are not
dominated by a few chains: more levels (a finer schedule) shrink the weights' spread.

Continuous units are not covered yet: their λ = 0 law is not normalisable, and a Gaussian base
needs an interpolated energy (λU + (1 − λ)·½‖s‖²) that the samplers do not take.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Sequence

import torch
from torch import Tensor

from .. import _checks
from ..costs import Cost
from ..energies.model import Energy
from .base import Target, prepare
from .gibbs import Gibbs
from .monte_carlo import MonteCarloSampler


def schedule_levels(schedule: int | Sequence[float]) -> list[float]:
    """λ_0 = 0 < λ_1 < … < λ_K = 1 from ``schedule``: K (an int: K equal steps in λ) or the
    levels themselves (increasing, from 0 to 1)."""
    if isinstance(schedule, int) and not isinstance(schedule, bool):
        K = _checks.positive_int("schedule", schedule)
        return [k / K for k in range(K + 1)]
    levels = [float(v) for v in schedule]
    if len(levels) < 2 or levels[0] != 0.0 or levels[-1] != 1.0 or any(
            b <= a for a, b in zip(levels, levels[1:], strict=False)):
        raise ValueError(f"schedule must be a number of steps K >= 1 or increasing levels from "
                         f"0 to 1, got {schedule!r}")
    return levels


def _uniform_state(energy: Energy, chains: int, batch: int, generator) -> tuple[Tensor, ...]:
    """An exact draw from the uniform law over the support, ``[C, B, *shape]`` per layer."""
    state = []
    for layer in energy.free_layers:
        values = torch.tensor(layer.unit.support.values, dtype=energy.dtype,
                              device=energy.device)
        idx = torch.randint(0, len(values), (chains, batch, *layer.shape), generator=generator,
                            device=energy.device)
        state.append(values[idx])
    return tuple(state)


def log_partition_ais(energy: Energy, cost: Cost, x: Tensor, y: Tensor, nudge: float = 0.0,
                      temperature: float | None = None, *, sampler: MonteCarloSampler | None = None,
                      schedule: int | Sequence[float] = 200, chains: int = 64,
                      sweeps: int = 1, generator: torch.Generator | None = None
                      ) -> tuple[Tensor, Tensor]:
    """log Z_b per input and its standard error, both ``[B]``, by annealed importance sampling
    (module docstring): compare with :func:`thermoep.samplers.exact.log_partition`.

    Args:
        energy: the model (discrete units).
        cost: the cost ℓ.
        x: the batch of inputs.
        y: class labels or targets.
        nudge: b.
        temperature: T (default: the sampler's, else 1).
        sampler: the transition, any Monte-Carlo sampler that accepts the energy (its
            temperature, chains and burn-in are replaced by the anneal's; default ``Gibbs()``,
            exact for binary and spin units).
        schedule: K equal steps in λ, or the levels λ_0 = 0 < … < λ_K = 1.
        chains: independent annealing runs per input (the weights' sample).
        sweeps: Gibbs sweeps at each level.
        generator: the random stream (seeded: same seed, same numbers).

    The estimate of log Z is biased low (Jensen; Ẑ itself is unbiased); the standard error is
    the delta method's over the chains.
    """
    if sampler is None:
        sampler = Gibbs()
    if not isinstance(sampler, MonteCarloSampler):  # the capability: a tempered transition
        raise TypeError(f"log_partition_ais needs a Markov-chain sampler whose temperature it "
                        f"can set (a MonteCarloSampler, e.g. Gibbs); got "
                        f"{type(sampler).__name__}")
    if not energy.discrete:
        kinds = sorted({layer.unit.name for layer in energy.free_layers
                        if not layer.unit.discrete})
        raise TypeError(f"log_partition_ais needs discrete (binary or spin) units, whose λ = 0 "
                        f"law is uniform; {type(energy).__name__} has continuous {kinds} units")
    T = _checks.positive_float("temperature", float(sampler.temperature if temperature is None
                                                      else temperature))
    nudge = _checks.finite_float("nudge", nudge)
    chains = _checks.positive_int("chains", chains, minimum=2)
    sweeps = _checks.positive_int("sweeps", sweeps)
    levels = schedule_levels(schedule)
    sampler.check(energy, cost)
    x, y = prepare(energy, cost, x, y)
    target = Target(energy, cost, x, y, nudge)
    L = energy.output

    def potential(s):  # U(s)/T, [C, B]
        return (energy.energy(x, s) + nudge * cost.value(s[L], y)) / T

    kernel = copy.copy(sampler)
    kernel.chains, kernel.burn_in = chains, 0
    with torch.no_grad():
        s = _uniform_state(energy, chains, target.batch, generator)
        state = kernel.init(target, init=s, generator=generator)
        log_w = torch.zeros(chains, target.batch, dtype=torch.float64, device=energy.device)
        for prev, lam in zip(levels[:-1], levels[1:], strict=True):
            log_w -= (lam - prev) * potential(state.position).double()
            if lam == 1.0:
                break  # the last level's draw would not enter any weight
            kernel.temperature = T / lam
            at = dataclasses.replace(target, temperature=T / lam)
            for t in range(sweeps):
                state, _ = kernel.step(at, state, t, generator=generator)
    log_z0 = sum(layer.size * math.log(len(layer.unit.support.values))
                 for layer in energy.free_layers)
    top = log_w.max(0).values
    w = torch.exp(log_w - top)                                      # [C, B], max 1 per input
    mean = w.mean(0)
    log_z = log_z0 + top + mean.log()
    se = w.std(0, unbiased=True) / (math.sqrt(chains) * mean)
    return log_z.to(energy.dtype), se.to(energy.dtype)


__all__ = ["log_partition_ais", "schedule_levels"]

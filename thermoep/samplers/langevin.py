"""Langevin samplers for continuous units: unadjusted (ULA) and Metropolis-adjusted (MALA).

Target p_b(s) ∝ exp(−U(s)/T) with U = E + b·ℓ. One step with step size η:

    s' = s − η ∇U(s) + √(2ηT) ξ,   ξ ~ N(0, I),

the Euler–Maruyama discretisation of ds = −∇U dt + √(2T) dW, whose stationary law is exp(−U/T)
(the √(2ηT) factor sets the temperature; tests/test_samplers.py checks it on a Gaussian).
ULA carries an O(η) bias; MALA removes it by accepting s' with probability

    min(1, exp(−(U(s') − U(s))/T) q(s | s') / q(s' | s)),
    q(s' | s) = N(s'; s − η∇U(s), 2ηT I).

Each (chain, input) pair is one chain; acceptance is per pair, a NaN energy difference is a
rejection. The state caches U and ∇U so MALA costs one gradient per step.

Rao–Blackwellised ULA (``rao_blackwell=True``). Given the current state s the next one is
s' ~ N(m, σ²I), m = s − η∇U(s), σ² = 2ηT, with independent noise per unit. The chain moves with
the actual noise, but every sample the estimators average is replaced by its conditional
expectation given s, which keeps its mean and removes the fresh noise's share of its variance:

- E[ρ(s'_l) | s] per unit (Gauss–Hermite, ``LayeredHopfield.gaussian_mean``);
- E[ℓ(s'_L) | s] = ½‖m_L − y‖² + ½ n_L σ² (SquaredError);
- ∂θE is a product of two different layers' ρ, so E[∂θE(s') | s] is the product of the layers'
  conditional means; in the covariance estimator, E[∂θE(s') ℓ(s'_L) | s] factorises the same way
  except for the output layer's own units, where E[ρ(s'_{L,k}) ½(s'_{L,k} − y_k)² | s] is a 1-D
  Gaussian integral (Gauss–Hermite again).

Only for ULA (MALA's next state is not Gaussian given s), smooth ρ and SquaredError.

Conditional Rao–Blackwellisation (``conditional=True``, see ``samplers/base.py``) averages the
hidden units given their neighbours under the exact Boltzmann conditional; ULA's samples carry
an O(η) bias that this then carries in full (at η = 0.4, T = 0.001 the path integral's norm is
1.4× its limit, benchmarks/results/thermo_gradient_noise.md): prefer MALA or ``Gibbs`` with it.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor

from .. import _checks
from ..costs import Cost, SquaredError
from ..energies.base import LayeredEnergy, State
from .base import MonteCarloSampler, Phase, check_nudge


class LangevinState(NamedTuple):
    position: State
    potential: Tensor      # U = E + bℓ, [C, B]
    grad: State            # ∇U


def _potential(energy, cost, x, y, nudge, drive, s, need_u=True):
    """(U, ∇U) at s, ρ(s) computed once; U is None when not needed (ULA)."""
    rho = energy.rho_all(s)
    u = energy.energy(x, s, drive, rho_s=rho[0]) if need_u else None
    g = list(energy.state_grad(x, s, drive, rho=rho))
    if nudge != 0.0:
        if need_u:
            u = u + nudge * cost.value(s[-1], y)
        g[-1] = g[-1] + nudge * cost.grad(s[-1], y)
    return u, tuple(g)


class Langevin(MonteCarloSampler):
    """ULA (``metropolis=False``) or MALA (``metropolis=True``) with C chains per input.

    ``steps`` counts every step; the first ``burn_in`` are discarded, then every ``thin``-th
    state is kept.
    """

    def __init__(self, step_size: float = 0.05, steps: int = 300, burn_in: int = 100,
                 temperature: float = 1.0, metropolis: bool = False, chains: int = 8,
                 thin: int = 1, coupled: bool = False, rao_blackwell: bool = False,
                 conditional: bool = False) -> None:
        super().__init__(steps=steps, burn_in=burn_in, temperature=temperature, chains=chains,
                         thin=thin, coupled=coupled, conditional=conditional)
        self.step_size = _checks.positive_float("step_size", step_size)
        self.metropolis = bool(metropolis)
        self.rao_blackwell = bool(rao_blackwell)
        if self.rao_blackwell and self.metropolis:
            raise ValueError("rao_blackwell needs ULA (metropolis=False): after a Metropolis "
                             "test the next state is not Gaussian given the current one")
        if self.rao_blackwell and self.conditional:
            raise ValueError("choose one Rao–Blackwellisation: rao_blackwell (over each step's "
                             "noise) or conditional (over the units given their neighbours)")

    def __repr__(self) -> str:
        return (f"Langevin(step_size={self.step_size}, steps={self.steps}, "
                f"burn_in={self.burn_in}, temperature={self.temperature}, "
                f"metropolis={self.metropolis}, chains={self.chains}, thin={self.thin}, "
                f"coupled={self.coupled}, rao_blackwell={self.rao_blackwell}, "
                f"conditional={self.conditional})")

    def run(self, energy: LayeredEnergy, cost: Cost, x: Tensor, y: Tensor, nudge: float, *,
            init: State | None = None, generator=None, covariance: bool = False) -> Phase:
        if energy.binary:
            raise TypeError(f"{type(energy).__name__} has binary units: Langevin needs "
                            "continuous units; use Gibbs")
        if not energy.langevin_ok:
            raise TypeError(
                f"{energy!r}: its energy is infinite outside an open box (the self term "
                "∫σ⁻¹ is a barrier), which Langevin steps cannot respect; sample LayeredHopfield "
                "instead, or use Relaxation for T = 0"
            )
        check_nudge(energy, cost, nudge)
        drive = energy.input_drive(x).detach()
        eta, T = self.step_size, self.temperature
        noise_scale = math.sqrt(2.0 * eta * T)
        pos = self._initial_state(energy, x.shape[0], init, generator)
        if self.rao_blackwell:
            if not isinstance(cost, SquaredError):
                raise TypeError(f"rao_blackwell needs SquaredError (a closed-form Gaussian "
                                f"expectation of the cost), got {cost!r}")
            energy.gaussian_mean(0, pos[0][:0], 2.0 * eta * T)  # raises if ρ is not smooth
        with torch.no_grad():
            u, g = _potential(energy, cost, x, y, nudge, drive, pos, self.metropolis)
        st = {"state": LangevinState(pos, u, g), "accepted": 0.0, "proposed": 0}

        def step(_position: State) -> State:
            cur: LangevinState = st["state"]
            mean = tuple(p - eta * gp for p, gp in zip(cur.position, cur.grad, strict=True))
            prop = tuple(m + noise_scale * torch.randn(m.shape, generator=generator,
                                                       dtype=m.dtype, device=m.device)
                         for m in mean)
            st["mean"] = mean
            u_new, g_new = _potential(energy, cost, x, y, nudge, drive, prop, self.metropolis)
            if not self.metropolis:
                st["state"] = LangevinState(prop, u_new, g_new)
                return prop
            # log q(a | b) = −‖a − b + η∇U(b)‖² / (4ηT) + const
            fwd = sum(((q - p + eta * gp) ** 2).sum(-1)
                      for q, p, gp in zip(prop, cur.position, cur.grad, strict=True))
            bwd = sum(((p - q + eta * gq) ** 2).sum(-1)
                      for q, p, gq in zip(prop, cur.position, g_new, strict=True))
            log_alpha = -(u_new - cur.potential) / T + (fwd - bwd) / (4.0 * eta * T)
            log_alpha = torch.nan_to_num(log_alpha, nan=-math.inf)
            unif = torch.rand(log_alpha.shape, generator=generator, dtype=log_alpha.dtype,
                              device=log_alpha.device)
            accept = torch.log(unif) < log_alpha
            st["accepted"] += float(accept.to(log_alpha.dtype).mean())
            st["proposed"] += 1
            m = accept.unsqueeze(-1)
            new_pos = tuple(torch.where(m, q, p) for q, p in zip(prop, cur.position, strict=True))
            new_g = tuple(torch.where(m, a, b) for a, b in zip(g_new, cur.grad, strict=True))
            st["state"] = LangevinState(new_pos, torch.where(accept, u_new, cur.potential), new_g)
            return new_pos

        info: dict[str, float] = {"steps": float(self.steps)}
        expected = (lambda: (st["mean"], 2.0 * eta * T)) if self.rao_blackwell else None
        phase = self._run(energy, cost, x, y, nudge, pos, step, covariance=covariance, info=info,
                          expected=expected)
        if self.metropolis:
            phase.info["acceptance"] = st["accepted"] / max(st["proposed"], 1)
        return phase

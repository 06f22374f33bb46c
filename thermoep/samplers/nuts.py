"""Reference samplers from Pyro: NUTS and HMC (``pyro.infer.mcmc`` kernels) on the same energy,
through the same init/step interface as every sampler here.

Target (as everywhere): p_b(s) ∝ exp(−U(s)/T), U = E + b·ℓ. Pyro samples exp(−Φ(z)) for a
potential Φ, so Φ(z) = Σ_i U(s_i; x_i)/T with z the flattened state of the whole batch.
Hamiltonian Monte Carlo (Duane et al. 1987; Neal 2011, eqs. 5.18–5.20) adds a momentum
r ~ N(0, M), follows H(z, r) = Φ(z) + ½ rᵀM⁻¹r with leapfrog steps of size ε and accepts with
probability min(1, exp(H(z, r) − H(z', r'))); NUTS (Hoffman & Gelman 2014, Algorithm 3 with
multinomial sampling, as in Pyro) builds the trajectory by doubling until it makes a U-turn.
During the first ``burn_in`` steps Pyro adapts ε by dual averaging towards a mean acceptance
probability of 0.8 (Hoffman & Gelman 2014, §3.2) and a diagonal mass matrix M.

Product space: the B inputs are independent given θ, so one chain on the flat z samples every
p_b(· | x_i) at once; ε and the U-turn are shared by the batch. Chains: Pyro has no vectorised
multi-chain NUTS, so each of the C chains is its own kernel, stepped one after another; chains
are still the leading dimension of the states the observers see. Pyro draws from torch's global
random stream: each step runs on a stream of its own (seeded from ``generator`` at init), and
the global stream is left as it was. The potential uses the energy's analytic gradient (the one
Langevin uses) through a small autograd function, so no graph is built through θ.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from .. import _checks
from ..energies.model import State
from .base import Target, check_nudge
from .langevin import check_continuous, potential
from .monte_carlo import MonteCarloSampler


class _Potential(torch.autograd.Function):
    """Φ(z) with its analytic gradient: ``fn(z) -> (Φ, ∇Φ)``."""

    @staticmethod
    def forward(ctx, z: Tensor, fn) -> Tensor:
        value, grad = fn(z)
        ctx.save_for_backward(grad)
        return value

    @staticmethod
    def backward(ctx, grad_output: Tensor):
        (grad,) = ctx.saved_tensors
        return grad_output * grad, None


class PyroState(NamedTuple):
    position: State
    kernels: list          # one Pyro kernel per chain
    params: list           # the kernels' current {"s": z}
    rng: Tensor            # the private torch random state
    chains: int


class _PyroSampler(MonteCarloSampler):
    """Shared init/step of :class:`NUTS` and :class:`HMC`; subclasses build the kernel."""

    #: the kernels adapt (step size, mass matrix): a state is more than its position
    state_from_position = False

    def __init__(self, *, steps: int, burn_in: int, temperature: float, chains: int, thin: int,
                 step_size: float, adapt_step_size: bool) -> None:
        super().__init__(steps=steps, burn_in=burn_in, temperature=temperature, chains=chains,
                         thin=thin)
        self.step_size = _checks.positive_float("step_size", step_size)
        self.adapt_step_size = bool(adapt_step_size)

    def _kernel(self, potential_fn):
        raise NotImplementedError

    def check(self, energy, cost) -> None:
        check_continuous(energy, type(self).__name__)

    def init(self, target: Target, init: State | None = None, generator=None) -> PyroState:
        self.check(target.energy, target.cost)
        check_nudge(target.energy, target.cost, target.nudge)
        energy, T = target.energy, self.temperature
        start = self.initial_state(target, init, generator)           # [C, B, *shape]
        z0 = energy.flatten_state(start).reshape(self.chains, -1)
        seed = int(torch.randint(0, 2**62, (1,), generator=generator,
                                 device=generator.device if generator is not None else "cpu"))

        def value_and_grad(z: Tensor):
            s = energy.unflatten_state(z.reshape(target.batch, -1))
            u, g, _ = potential(target, s)
            return u.sum() / T, energy.flatten_state(g).reshape(-1) / T

        def potential_fn(params):
            """Φ({"s": z}) = Σ_i (E + bℓ)(s_i; x_i) / T, the batch summed (product target)."""
            return _Potential.apply(params["s"], value_and_grad)

        kernels, params = [], []
        with torch.random.fork_rng(devices=[]), torch.enable_grad():
            torch.manual_seed(seed)
            for c in range(self.chains):
                kernel = self._kernel(potential_fn)
                kernel.initial_params = {"s": z0[c].clone()}
                kernel.setup(self.burn_in)
                kernels.append(kernel)
                params.append(kernel.initial_params)
            rng = torch.get_rng_state()
        return PyroState(start, kernels, params, rng, self.chains)

    def step(self, target: Target, state: PyroState, t: int, generator=None):
        energy = target.energy
        with torch.random.fork_rng(devices=[]), torch.enable_grad():
            torch.set_rng_state(state.rng)
            params = [k.sample(p) for k, p in zip(state.kernels, state.params, strict=True)]
            rng = torch.get_rng_state()
        z = torch.stack([p["s"].detach() for p in params]).to(energy.dtype)
        position = energy.unflatten_state(z.reshape(self.chains, target.batch, -1))
        return PyroState(position, state.kernels, params, rng, state.chains), None

    def summary(self, state: PyroState, means: dict) -> dict[str, float]:
        acc = [float(k.logging()["acc. prob"]) for k in state.kernels]
        return {"acceptance": sum(acc) / len(acc),                      # mean over chains
                "step_size": sum(float(k.step_size) for k in state.kernels) / len(acc),
                "divergences": float(sum(len(k.diagnostics()["divergences"])
                                         for k in state.kernels))}


class NUTS(_PyroSampler):
    """Pyro's No-U-Turn sampler on p_b ∝ exp(−(E + bℓ)/T), continuous units (reference sampler).

    ``steps`` counts warm-up and samples, ``burn_in`` is Pyro's warm-up (step size and diagonal
    mass matrix adaptation), ``step_size`` the initial leapfrog step, ``max_tree_depth`` caps a
    trajectory at 2**max_tree_depth leapfrog steps. ``info`` reports the mean acceptance
    probability of the kept steps (Pyro's "acc. prob"), the adapted step size and the divergent
    trajectories (summed over chains).

    Measured cost (``python benchmarks/nuts_vs_langevin.py``: LayeredHopfield([3, 4, 2], "tanh"),
    batch 4, T = 0.5, b = 0.5, 4 chains, 1 thread): NUTS takes 3.2 ms per effective sample of the
    batch-mean cost, about 14× MALA (0.24 ms, step 0.3) and 7× ULA (0.48 ms, step 0.1, which is
    also biased): its draws are nearly independent (ESS ≈ 0.8 per draw against 0.28 for MALA),
    but one draw costs as much as ~34 MALA steps per chain (Python-level tree building, chains in
    sequence instead of vectorised). Use it as a reference that checks the Langevin samplers.
    """

    def __init__(self, steps: int = 300, burn_in: int = 100, temperature: float = 1.0,
                 chains: int = 4, thin: int = 1, step_size: float = 0.1,
                 adapt_step_size: bool = True, max_tree_depth: int = 10) -> None:
        super().__init__(steps=steps, burn_in=burn_in, temperature=temperature, chains=chains,
                         thin=thin, step_size=step_size, adapt_step_size=adapt_step_size)
        self.max_tree_depth = _checks.positive_int("max_tree_depth", max_tree_depth)

    def __repr__(self) -> str:
        return (f"NUTS(steps={self.steps}, burn_in={self.burn_in}, "
                f"temperature={self.temperature}, chains={self.chains}, thin={self.thin}, "
                f"step_size={self.step_size}, adapt_step_size={self.adapt_step_size}, "
                f"max_tree_depth={self.max_tree_depth})")

    def _kernel(self, potential_fn):
        from pyro.infer.mcmc import NUTS as PyroNUTS

        return PyroNUTS(potential_fn=potential_fn, step_size=self.step_size,
                        adapt_step_size=self.adapt_step_size,
                        max_tree_depth=self.max_tree_depth)


class HMC(_PyroSampler):
    """Pyro's Hamiltonian Monte Carlo with ``num_steps`` leapfrog steps per proposal (as in
    Pyro the trajectory length ``step_size · num_steps`` is fixed: when the step size adapts,
    the number of leapfrog steps follows it). Everything else is as in :class:`NUTS`."""

    def __init__(self, steps: int = 300, burn_in: int = 100, temperature: float = 1.0,
                 chains: int = 4, thin: int = 1, step_size: float = 0.1, num_steps: int = 10,
                 adapt_step_size: bool = True) -> None:
        super().__init__(steps=steps, burn_in=burn_in, temperature=temperature, chains=chains,
                         thin=thin, step_size=step_size, adapt_step_size=adapt_step_size)
        self.num_steps = _checks.positive_int("num_steps", num_steps)

    def __repr__(self) -> str:
        return (f"HMC(steps={self.steps}, burn_in={self.burn_in}, "
                f"temperature={self.temperature}, chains={self.chains}, thin={self.thin}, "
                f"step_size={self.step_size}, num_steps={self.num_steps}, "
                f"adapt_step_size={self.adapt_step_size})")

    def _kernel(self, potential_fn):
        from pyro.infer.mcmc import HMC as PyroHMC

        return PyroHMC(potential_fn=potential_fn, step_size=self.step_size,
                       num_steps=self.num_steps, adapt_step_size=self.adapt_step_size)


__all__ = ["HMC", "NUTS"]

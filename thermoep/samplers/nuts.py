"""Reference samplers from Pyro: NUTS and HMC (``pyro.infer.mcmc``) on the same energy.

Target, as for every sampler here (DESIGN.md §1): p_b(s) ∝ exp(−U(s)/T), U = E + b·ℓ. Pyro
samples exp(−Φ(z)) for a potential Φ, so the potential is Φ(z) = Σ_i U(s_i; x_i)/T with z the
flattened state of the whole batch. Hamiltonian Monte Carlo (Duane et al. 1987; Neal 2011,
"MCMC using Hamiltonian dynamics", eqs. 5.18–5.20) adds a momentum r ~ N(0, M), follows
H(z, r) = Φ(z) + ½ rᵀM⁻¹r with leapfrog steps of size ε and accepts with probability
min(1, exp(H(z, r) − H(z', r'))); NUTS (Hoffman & Gelman 2014, Algorithm 3 with multinomial
sampling, as in Pyro) builds the trajectory by doubling until it makes a U-turn, so the length
needs no tuning. During the warm-up (``burn_in`` steps) Pyro adapts ε by dual averaging towards a
mean acceptance probability of 0.8 (Hoffman & Gelman 2014, §3.2) and a diagonal mass matrix M.

Product space: the B inputs are independent given θ, so p_b(s_1, …, s_B) = Π_i p_b(s_i | x_i) and
one chain on the product space (the flat z above) is a valid sampler of every factor at once; its
marginals are the per-input targets. The cost is that ε and the U-turn are shared by the batch.

Chains: Pyro has no vectorised multi-chain NUTS (``num_chains > 1`` means multiprocessing, and
packing chains into one parameter would be one chain on a product space, not independent chains).
So the C chains run one after another, each its own ``MCMC`` with ``num_chains=1``; chains are the
leading dimension of the returned moments and traces, like every other sampler, so ESS, R-hat and
standard errors come out the same way.

The potential uses the energy's analytic gradient (``state_grad``, the same one Langevin uses)
through a small autograd function, so no graph is built through θ.
"""

from __future__ import annotations

import contextlib
import random

import torch
from torch import Tensor

from .. import _checks
from ..costs import Cost
from ..energies.base import LayeredEnergy, State
from .base import MonteCarloSampler, Phase, _Accumulator, check_nudge
from .langevin import _potential


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


@contextlib.contextmanager
def _seeded(seed: int):
    """``pyro.set_rng_seed(seed)`` inside, every global random stream restored outside."""
    import numpy as np
    import pyro

    py_state, np_state = random.getstate(), np.random.get_state()
    with torch.random.fork_rng(devices=[]):
        pyro.set_rng_seed(seed)
        try:
            yield
        finally:
            random.setstate(py_state)
            np.random.set_state(np_state)


class _PyroSampler(MonteCarloSampler):
    """Shared run loop of :class:`NUTS` and :class:`HMC`; subclasses build the Pyro kernel."""

    def __init__(self, *, steps: int, burn_in: int, temperature: float, chains: int, thin: int,
                 step_size: float, adapt_step_size: bool) -> None:
        super().__init__(steps=steps, burn_in=burn_in, temperature=temperature, chains=chains,
                         thin=thin)
        self.step_size = _checks.positive_float("step_size", step_size)
        self.adapt_step_size = bool(adapt_step_size)

    def _kernel(self, potential_fn):
        raise NotImplementedError

    def run(self, energy: LayeredEnergy, cost: Cost, x: Tensor, y: Tensor, nudge: float, *,
            init: State | None = None, generator=None, covariance: bool = False) -> Phase:
        """Sample p_b for every input of the batch; same contract as :meth:`Langevin.run`.

        ``steps`` counts warm-up and samples; the first ``burn_in`` are Pyro's ``warmup_steps``
        (adaptation, discarded), then every ``thin``-th of the remaining samples is kept (Pyro
        itself draws all of them). Pyro is seeded with an integer drawn from ``generator``, so
        the same generator state gives the same samples; the global random streams (torch,
        numpy, random) are left as they were.

        Each chain is one Pyro ``MCMC(num_chains=1)`` over the flat state of the whole batch:
        the inputs are independent, so a chain on the product space samples every p_b(· | x_i)
        at once. There is no vectorised multi-chain NUTS in Pyro, so the C chains run one after
        another (each from its own row of ``init``).
        """
        if energy.binary:
            raise TypeError(f"{type(energy).__name__} has binary units: {type(self).__name__} "
                            "needs continuous units; use Gibbs")
        if not energy.langevin_ok:
            raise TypeError(f"{energy!r} is infinite outside an open box; "
                            f"{type(self).__name__} cannot sample it (use Relaxation for T = 0)")
        check_nudge(energy, cost, nudge)
        from pyro.infer.mcmc import MCMC

        B, sizes, T = x.shape[0], list(energy.layer_sizes), self.temperature
        n = sum(sizes)
        drive = energy.input_drive(x).detach()
        start = self._initial_state(energy, B, init, generator)       # [C, B, n_l] per layer
        z0 = torch.cat(start, -1).reshape(self.chains, B * n)         # flat state per chain
        seed = int(torch.randint(0, 2**32 - 1, (1,), generator=generator,
                                 device=generator.device if generator is not None else "cpu"))

        def unflatten(z: Tensor) -> State:
            return tuple(torch.split(z.reshape(*z.shape[:-1], B, n), sizes, -1))

        def value_and_grad(z: Tensor) -> tuple[Tensor, Tensor]:
            u, g = _potential(energy, cost, x, y, nudge, drive, unflatten(z))
            return u.sum() / T, torch.cat(g, -1).reshape(-1) / T

        def potential_fn(params: dict[str, Tensor]) -> Tensor:
            """Φ({"s": z}) = Σ_i (E + bℓ)(s_i; x_i) / T, the batch summed (product target)."""
            return _Potential.apply(params["s"], value_and_grad)

        kept = self.steps - self.burn_in
        samples, acceptance, step_sizes, divergences = [], [], [], 0
        last: dict = {}

        def hook(kernel, _params, stage: str, i: int) -> None:
            if stage.startswith("Sample") and i == kept - 1:  # the kernel's own statistics
                last["accept"] = float(kernel.logging()["acc. prob"])
                last["divergences"] = len(kernel.diagnostics()["divergences"])

        with _seeded(seed):
            for c in range(self.chains):
                kernel = self._kernel(potential_fn)
                mcmc = MCMC(kernel, num_samples=kept, warmup_steps=self.burn_in,
                            initial_params={"s": z0[c].clone()}, num_chains=1, hook_fn=hook,
                            disable_progbar=True)
                mcmc.run()
                samples.append(mcmc.get_samples()["s"][:: self.thin].detach())  # [S, B·n]
                acceptance.append(last["accept"])
                divergences += last["divergences"]
                step_sizes.append(float(kernel.step_size))
        z = torch.stack(samples, 0).to(dtype=energy.dtype)                  # [C, S, B·n]

        acc = _Accumulator(energy, cost, x, y, covariance)
        with torch.no_grad():
            for t in range(z.shape[1]):
                state = tuple(s.contiguous() for s in unflatten(z[:, t]))
                acc.add(state)
        info = {
            "steps": float(self.steps),
            "acceptance": sum(acceptance) / len(acceptance),   # mean over chains
            "step_size": sum(step_sizes) / len(step_sizes),    # mean over chains
            "divergences": float(divergences),
        }
        return acc.finish(nudge, state, info)


class NUTS(_PyroSampler):
    """Pyro's No-U-Turn sampler on p_b ∝ exp(−(E + bℓ)/T), continuous units (reference sampler).

    ``steps`` counts warm-up and samples, ``burn_in`` is Pyro's ``warmup_steps`` (step size and
    diagonal mass matrix adaptation), ``step_size`` is the initial leapfrog step, and
    ``max_tree_depth`` caps a trajectory at 2**max_tree_depth leapfrog steps. ``info`` reports the
    mean acceptance probability of the kept steps (Pyro's "acc. prob", which the warm-up adapts
    towards 0.8), the adapted step size and the divergent trajectories (summed over chains).
    The C chains run one after another (see the module docstring), each on the product space of
    the batch.

    Measured cost (``python benchmarks/nuts_vs_langevin.py``: LayeredHopfield([3, 4, 2], "tanh"),
    batch 4, T = 0.5, b = 0.5, 4 chains, 1 thread): NUTS takes 3.2 ms per effective sample of the
    batch-mean cost, about 14× MALA (0.24 ms, step 0.3) and 7× ULA (0.48 ms, step 0.1, which is
    also biased): its draws are nearly independent (ESS ≈ 0.8 per draw against 0.28 for MALA),
    but one draw costs as much as ~34 MALA steps per chain (2.0 ms against 0.06 ms: Python-level
    tree building, chains in sequence instead of vectorised). Use it as a reference that checks
    the Langevin samplers, not to train.
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
    """Pyro's Hamiltonian Monte Carlo with ``num_steps`` leapfrog steps per proposal.

    As in Pyro, the trajectory length ``step_size · num_steps`` is fixed: when the step size is
    adapted during the warm-up, the number of leapfrog steps follows it. Everything else is as in
    :class:`NUTS`.
    """

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

"""Backprop baseline: BPTT through the unrolled free-phase relaxation (Ernoult et al. 2019).

Not EP: it differentiates the relaxation with autograd. It is here so every EP estimator can be
compared side by side with the gradient it approximates, on the same architecture and dynamics.
"""

from __future__ import annotations

import torch
from torch.nn.utils import parametrize

from ..costs import trainables
from ..gradient import Gradient
from ..samplers.relax import Relaxation
from .base import Estimator


class Backprop(Estimator):
    """∇θ mean ℓ(s_K, y) through K relaxation steps; spends no nudged phase."""

    name = "backprop"

    def __init__(self, sampler: Relaxation | None = None, beta: float = 1.0) -> None:
        super().__init__(sampler, beta)
        if not (self.deterministic and hasattr(self.sampler, "settle")):
            raise TypeError("the backprop baseline differentiates a deterministic relaxation; "
                            f"got sampler {type(self.sampler).__name__}")

    def stencil(self):
        return []

    def __call__(self, energy, cost, x, y, *, generator=None) -> Gradient:
        target = self._target(energy, cost, x, y)
        x, y = target.x, target.y
        params = trainables(energy, cost)
        L = energy.output
        # one effective (spectrally normalised) weight per batch, with its autograd graph
        with parametrize.cached(), torch.enable_grad():
            s, residual, taken = self.sampler.settle(energy, cost, x, y, 0.0)
            ell = cost.value(s[L], y)
            grads = torch.autograd.grad(ell.mean(), list(params.values()), allow_unused=True)
        out = {k: torch.zeros_like(v) if g is None else g
               for (k, v), g in zip(params.items(), grads, strict=True)}
        stats = {"beta": self.beta, "temperature": 0.0, "free_steps": float(taken),
                 "free_residual": float(residual.max())}
        return Gradient(out, 0, stats, loss=float(ell.detach().mean()),
                        output=s[L].detach())

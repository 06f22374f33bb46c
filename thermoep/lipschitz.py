"""Lipschitz constant of the relaxation map at its free fixed point (seed
spectral-normalization-eqprop §2.2–§3): the mathematics, used by the training loop's per-epoch
record and by :mod:`thermoep.diagnostics.lipschitz`.

One full step of :class:`~thermoep.Relaxation` (a sweep over the even and odd layer blocks, or
one Jacobi step) is the map

    F(s) = Π(s − η ∂E/∂s(s; x)),

and the free phase converges to s*_0 = F(s*_0) when F contracts: ‖F(s) − F(s')‖ ≤ L ‖s − s'‖
with L < 1 (§2.2). Near the fixed point the local constant is the spectral norm of the Jacobian,
L = σ_max(∂F/∂s(s*_0)) = sqrt(λ_max(JᵀJ)), found here by power iteration on JᵀJ with
``torch.func.jvp`` (J v) and ``torch.func.vjp`` (Jᵀ u) — no Jacobian is formed. Inputs do not
interact, so J is block diagonal over the batch and every sample gets its own L (shape [batch]);
the seed's finding is that training can push L above 1 (§3), which breaks the relaxation.
"""

from __future__ import annotations

import copy

import torch
from torch.func import jvp, vjp

from . import _checks
from .objectives.references import frozen
from .samplers.base import prepare
from .samplers.relax import Relaxation

__all__ = ["relaxation_lipschitz", "relaxation_map"]


def relaxation_map(energy, cost, x, y, relaxation: Relaxation):
    """F on flattened states ``[B, N]``: one full relaxation step at b = 0."""
    one = copy.copy(relaxation)
    one.tol = 0.0  # a single step: no early-stopping test (and no .item() under torch.func)

    def F(flat: torch.Tensor) -> torch.Tensor:
        new, _, _ = one.settle(energy, cost, x, y, 0.0, init=energy.unflatten_state(flat),
                               steps=1)
        return energy.flatten_state(new)

    return F


def power_iteration(F, point: torch.Tensor, iters: int, generator) -> torch.Tensor:
    """σ_max of the per-sample blocks of ∂F/∂s at ``point`` ``[B, N]`` → ``[B]``."""
    v = torch.randn(point.shape, generator=generator, dtype=point.dtype, device=point.device)
    v = v / v.norm(dim=-1, keepdim=True)
    _, pullback = vjp(F, point)
    sigma = torch.zeros(point.shape[0], dtype=point.dtype, device=point.device)
    for _ in range(iters):
        _, u = jvp(F, (point,), (v,))            # J v
        sigma = u.norm(dim=-1)                   # ‖J v‖ with ‖v‖ = 1
        (w,) = pullback(u)                       # Jᵀ J v
        norm = w.norm(dim=-1, keepdim=True)
        v = torch.where(norm > 0, w / norm.clamp_min(torch.finfo(w.dtype).tiny), v)
    _, u = jvp(F, (point,), (v,))
    return torch.maximum(sigma, u.norm(dim=-1)).detach()


def relaxation_lipschitz(energy, cost, x, y, relaxation: Relaxation | None = None,
                         iters: int = 50, *, generator: torch.Generator | None = None
                         ) -> tuple[torch.Tensor, torch.Tensor]:
    """(σ_max(∂F/∂s) per input ``[B]``, the fixed point's residual ``[B]``) at the free fixed
    point of ``relaxation`` (any architecture: the map is the relaxation's own step)."""
    relaxation = Relaxation() if relaxation is None else relaxation
    if not getattr(relaxation, "deterministic", False) or not hasattr(relaxation, "settle"):
        raise TypeError(f"relaxation must be a deterministic relaxation (te.Relaxation), got "
                        f"{type(relaxation).__name__}")
    iters = _checks.positive_int("iters", iters)
    x, y = prepare(energy, cost, x, y)
    with frozen(energy):  # one effective weight for every map evaluation (spectral norm)
        with torch.no_grad():
            s, residual, _ = relaxation.settle(energy, cost, x, y, 0.0)
        point = energy.flatten_state(s).detach()
        if generator is None:
            generator = torch.Generator(device=point.device).manual_seed(0)
        sigma = power_iteration(relaxation_map(energy, cost, x, y, relaxation), point, iters,
                                generator)
    return sigma, residual.detach()

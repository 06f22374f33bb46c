"""Ground-truth gradients the estimators are tested against (docs/design.md §1).

* :func:`implicit_grad` — T = 0: d/dθ of the batch mean of ℓ(s*_0(θ), y) at the free fixed point,
  by the implicit function theorem: with H = ∂²E/∂s² at s*, solve H λ = ∂ℓ/∂s, then
  dℓ/dθ = −λᵀ ∂²E/∂s∂θ = −∂θ[λ · ∂E/∂s(s*; θ)] (λ, s* held fixed). Per-sample Hessians come from
  ``torch.func.hessian`` under ``vmap``. Units pinned at a projection bound (hard sigmoid at 0 or 1)
  have ds*/dθ = 0 and are removed from the linear system.
* :func:`bptt_grad` — backpropagation through the unrolled relaxation (Ernoult et al. 2019).
* :func:`gaussian_grad_L` — the closed form for :class:`~thermoep.energies.GaussianEnergy`.
* Binary models: :func:`thermoep.exact.grad_J` (enumeration).
"""

from __future__ import annotations

import contextlib

import torch
from torch import Tensor
from torch.func import hessian, vmap

from .. import _checks
from ..costs import Cost, SquaredError, trainables
from ..energies.gaussian import GaussianEnergy
from ..energies.model import Energy
from ..gradient import Gradient
from ..samplers.base import prepare
from ..samplers.relax import Relaxation


@contextlib.contextmanager
def frozen(energy):
    """Eval mode within: parametrisations (spectral normalisation) stop advancing their power
    iteration, so every access gives the same effective weights (references differentiate
    through them more than once)."""
    was = energy.training
    energy.eval()
    try:
        yield energy
    finally:
        energy.train(was)


def _pinned(energy, s) -> Tensor:
    """Units sitting on their box (hard sigmoid at 0 or 1), flattened ``[B, N]``."""
    masks = []
    for t, layer in zip(s, energy.free_layers, strict=True):
        box = layer.unit.box
        m = torch.zeros_like(t, dtype=torch.bool) if box is None else (t <= box[0]) | (t >= box[1])
        masks.append(m.flatten(t.dim() - layer.ndim) if layer.ndim > 1 else m)
    return torch.cat(masks, -1)


def implicit_grad(energy: Energy, cost: Cost, x: Tensor, y: Tensor,
                  relaxation: Relaxation | None = None) -> Gradient:
    """∇θ mean_b ℓ(s*_0, y) by implicit differentiation at the relaxation's fixed point
    (and ∂φℓ for a cost's own parameters φ)."""
    relaxation = Relaxation(steps=2000, step_size=0.5, tol=1e-12) if relaxation is None else \
        relaxation
    x, y = prepare(energy, cost, x, y)
    B, L = x.shape[0], energy.output
    with frozen(energy):
        with torch.no_grad():
            s, residual, _ = relaxation.settle(energy, cost, x, y, 0.0)
        flat = energy.flatten_state(s).detach()
        params = dict(energy.named_parameters())  # φ of the cost is added below

        def e_single(sf: Tensor, xb: Tensor) -> Tensor:
            return energy.energy(xb.unsqueeze(0), energy.unflatten_state(sf.unsqueeze(0)))[0]

        with torch.no_grad():
            H = vmap(hessian(e_single))(flat, x)  # [B, N, N]
            grads_s = [torch.zeros_like(t) for t in s]
            grads_s[L] = cost.grad(s[L], y)
            rhs = energy.flatten_state(tuple(grads_s))
            pinned = _pinned(energy, s)
            if bool(pinned.any()):
                eye = torch.eye(flat.shape[1], dtype=flat.dtype, device=flat.device)
                keep = (~pinned).to(flat.dtype)
                H = H * keep.unsqueeze(1) * keep.unsqueeze(2) + eye * pinned.to(
                    flat.dtype).unsqueeze(1)
                rhs = rhs * keep
            lam = torch.linalg.solve(H, rhs.unsqueeze(-1)).squeeze(-1)
        lam_parts = energy.unflatten_state(lam)
        with torch.enable_grad():
            sg = energy.state_grad(x, tuple(t.detach() for t in s))
            total = -sum((lp * g).sum() for lp, g in zip(lam_parts, sg, strict=True)) / B
            grads = torch.autograd.grad(total, list(params.values()), allow_unused=True)
    out = {k: torch.zeros_like(v) if g is None else g.detach()
           for (k, v), g in zip(params.items(), grads, strict=True)}
    # a cost's own parameters φ enter ℓ(s*_0, y; φ) directly (s*_0 does not depend on φ)
    out.update({k: v.detach() / B for k, v in cost.param_grad(s[L].detach(), y).items()})
    return Gradient(out, 0, {"method": "implicit", "residual": float(residual.max())},
                    loss=float(cost.value(s[L], y).detach().mean()), output=s[L])


def bptt_grad(energy: Energy, cost: Cost, x: Tensor, y: Tensor,
              relaxation: Relaxation | None = None) -> Gradient:
    """∇θ mean_b ℓ(s_K, y) by backpropagation through K relaxation steps from the zero state."""
    relaxation = Relaxation() if relaxation is None else relaxation
    x, y = prepare(energy, cost, x, y)
    params = trainables(energy, cost)
    L = energy.output
    with frozen(energy), torch.enable_grad():
        s, residual, _ = relaxation.settle(energy, cost, x, y, 0.0)
        loss = cost.value(s[L], y).mean()
        grads = torch.autograd.grad(loss, list(params.values()), allow_unused=True)
    out = {k: torch.zeros_like(v) if g is None else g.detach()
           for (k, v), g in zip(params.items(), grads, strict=True)}
    return Gradient(out, 0, {"method": "bptt", "residual": float(residual.max())},
                    loss=float(loss.detach()), output=s[L].detach())


def gaussian_grad_L(energy: GaussianEnergy, cost: Cost, x: Tensor, y: Tensor, beta: float,
                    temperature: float = 1.0) -> Gradient:
    """Closed-form ∇θ mean_b L_β for the Gaussian energy with ℓ = ½‖s − y‖².

    ∂E/∂W = −x sᵀ and ∂E/∂b = −s are linear in s, so E_b[∂θE] only needs the mean μ_b.
    """
    if not isinstance(energy, GaussianEnergy) or not isinstance(cost, SquaredError):
        raise TypeError("gaussian_grad_L needs a GaussianEnergy and SquaredError")
    beta = _checks.finite_float("beta", beta, allow_zero=False)
    T = _checks.positive_float("temperature", temperature)
    x, y = prepare(energy, cost, x, y)
    B = x.shape[0]
    with torch.no_grad():
        mu_b, _ = energy.moments(x, y, beta, T)
        mu_0, _ = energy.moments(x, y, 0.0, T)
        d = (mu_b - mu_0) / beta
        grads = {"dense_x_s1.weight": -(x.transpose(0, 1) @ d) / B,
                 "bias_s1.bias": -d.mean(0)}
    return Gradient(grads, 0, {"method": "gaussian closed form"})

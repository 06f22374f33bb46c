"""Exact references by enumeration for energies whose free units are all discrete (binary or
spin; ≤ 20 free units).

Every free configuration s_k is enumerated once, and E is evaluated through the energy's own
terms (so any energy of the model — lateral couplings, spins, a term of one's own — is covered);
with E_kb = E(s_k; x_b) and ℓ_kb = ℓ(s_k, y_b),

    log Z_b(β) = logsumexp_k(−(E_kb + β ℓ_kb)/T),   F_β = −T log Z_β,   J_β = F_β − F_0,
    ∇θ J_β = E_{p_β}[∂θE] − E_{p_0}[∂θE]                 (seed ep-without-limits, Thm 3.1),

and ``grad_J`` evaluates the right-hand side (weights p detached, one autograd pass through the
linear-in-p sum), independently of autograd through ``log Z`` which the tests compare it to.
Everything is averaged over the batch, as the estimators are.
"""

from __future__ import annotations

import itertools

import torch
from torch import Tensor

from .. import _checks
from ..costs import Cost
from ..energies.model import Energy
from ..gradient import Gradient
from .base import prepare

MAX_UNITS = 20
#: configurations evaluated together (bounds the [K, B, n] intermediates)
_CHUNK = 4096


def _configurations(energy: Energy) -> tuple[Tensor, ...]:
    """Every free state, as one tensor ``[K, *shape_l]`` per layer (K = Π_units |values|)."""
    for layer in energy.free_layers:
        if not layer.unit.discrete:
            raise TypeError(f"exact enumeration needs discrete units; layer {layer.name!r} of "
                            f"{type(energy).__name__} has continuous {layer.unit.name} units")
    n = energy.num_free_units
    if n > MAX_UNITS:
        raise ValueError(
            f"exact enumeration supports at most {MAX_UNITS} free units (2^{MAX_UNITS} states); "
            f"this model has {n} (layers {[layer.size for layer in energy.free_layers]})")
    values = [layer.unit.support.values for layer in energy.free_layers
              for _ in range(layer.size)]
    table = torch.tensor(list(itertools.product(*values)), dtype=energy.dtype,
                         device=energy.device).reshape(-1, n)
    parts = torch.split(table, list(energy.layer_sizes), dim=1)
    return tuple(p.reshape(-1, *layer.shape) for p, layer in zip(parts, energy.free_layers,
                                                                  strict=True))


def _energy_table(energy: Energy, x: Tensor, conf: tuple[Tensor, ...]) -> Tensor:
    """E(s_k; x_b) as a [K, B] table, in chunks of configurations."""
    K, B = conf[0].shape[0], x.shape[0]
    rows = []
    for start in range(0, K, _CHUNK):
        part = tuple(c[start:start + _CHUNK].unsqueeze(1) for c in conf)  # [k, 1, *shape]
        # without a term that reads x (an energy with no input) E comes out [k, 1]: broadcast
        # it over the batch, so averages over the batch divide by B
        rows.append(energy.energy(x, part).expand(part[0].shape[0], B))
    return torch.cat(rows, 0)


def _cost_table(energy: Energy, cost: Cost, conf, y: Tensor) -> Tensor:
    out = conf[energy.output]
    return cost.value(out.unsqueeze(1), y.unsqueeze(0))  # [K, B]


def _check(temperature):
    return _checks.positive_float("temperature", temperature)


def _tables(energy, cost, x, y):
    if cost.named_trainables():
        raise TypeError(f"exact enumeration differentiates θ-free costs; {cost!r} has "
                        "parameters of its own")
    if energy.unit_scales is not None:
        raise ValueError("exact enumeration tabulates E over configurations shared by the batch; "
                         "per-sample unit scales (dropout) are not supported")
    x, y = prepare(energy, cost, x, y)
    conf = _configurations(energy)
    return conf, _energy_table(energy, x, conf), _cost_table(energy, cost, conf, y)


def log_partition(energy: Energy, cost: Cost, x: Tensor, y: Tensor, nudge: float = 0.0,
                  temperature: float = 1.0) -> Tensor:
    """log Z_b per input, ``[B]`` (differentiable in θ)."""
    T = _check(temperature)
    nudge = _checks.finite_float("nudge", nudge)
    _, e, ell = _tables(energy, cost, x, y)
    return torch.logsumexp(-(e + nudge * ell) / T, dim=0)


def free_energy(energy, cost, x, y, nudge: float = 0.0, temperature: float = 1.0) -> Tensor:
    """F_b = −T log Z_b per input, ``[B]``."""
    return -float(temperature) * log_partition(energy, cost, x, y, nudge, temperature)


def objective_J(energy, cost, x, y, beta: float = 1.0, temperature: float = 1.0) -> Tensor:
    """J_β = F_β − F_0 = −T log E_{p_0}[exp(−βℓ/T)] per input, ``[B]``."""
    return (free_energy(energy, cost, x, y, beta, temperature)
            - free_energy(energy, cost, x, y, 0.0, temperature))


def configurations(energy: Energy) -> tuple[Tensor, ...]:
    """Every free configuration, one tensor ``[K, *shape_l]`` per layer, in the order of the
    rows of :func:`probabilities`."""
    return _configurations(energy)


def probabilities(energy, cost, x, y, nudge: float = 0.0, temperature: float = 1.0) -> Tensor:
    """p_b(s_k | x_b) as a [K, B] table (no autograd graph: differentiate
    :func:`log_partition` for gradients)."""
    T = _check(temperature)
    with torch.no_grad():
        _, e, ell = _tables(energy, cost, x, y)
        return torch.softmax(-(e + nudge * ell) / T, dim=0)


def marginals(energy, cost, x, y, nudge: float = 0.0, temperature: float = 1.0
              ) -> tuple[Tensor, ...]:
    """E_{p_b}[s_l] per input, one ``[B, *shape_l]`` tensor per free layer."""
    p = probabilities(energy, cost, x, y, nudge, temperature)
    conf = _configurations(energy)
    return tuple(torch.einsum("kb,k...->b...", p, c) for c in conf)


def expected_cost(energy, cost, x, y, nudge: float = 0.0, temperature: float = 1.0) -> Tensor:
    """E_{p_b}[ℓ] per input, ``[B]`` (= dF_b/db, Lemma 3.3)."""
    T = _check(temperature)
    _, e, ell = _tables(energy, cost, x, y)
    p = torch.softmax(-(e + nudge * ell) / T, dim=0)
    return (p * ell).sum(0)


def _weighted_param_grad(energy, cost, x, y, nudge, temperature, weight) -> dict[str, Tensor]:
    """Batch mean of Σ_k w_kb ∂θE(s_k; x_b), with w = weight(p_b, ℓ) held fixed.

    E is linear in the weights' sum, so one autograd pass through Σ w·E gives the expectation.
    """
    T = _check(temperature)
    with torch.no_grad():
        _, e, ell = _tables(energy, cost, x, y)
        w = weight(torch.softmax(-(e + nudge * ell) / T, dim=0), ell)
    params = dict(energy.named_parameters())
    with torch.enable_grad():
        _, e, _ = _tables(energy, cost, x, y)
        grads = torch.autograd.grad((w * e).sum() / e.shape[1], list(params.values()),
                                    allow_unused=True)
    return {k: (torch.zeros_like(v) if g is None else g)
            for (k, v), g in zip(params.items(), grads, strict=True)}


def expected_param_grad(energy, cost, x, y, nudge: float = 0.0,
                        temperature: float = 1.0) -> dict[str, Tensor]:
    """Batch mean of E_{p_b}[∂θE], keyed like ``named_parameters()``."""
    return _weighted_param_grad(energy, cost, x, y, nudge, temperature, lambda p, ell: p)


def covariance(energy, cost, x, y, nudge: float = 0.0,
               temperature: float = 1.0) -> dict[str, Tensor]:
    """Batch mean of Cov_{p_b}(∂θE, ℓ) = E_b[∂θE (ℓ − E_b[ℓ])], keyed like named_parameters()."""
    return _weighted_param_grad(
        energy, cost, x, y, nudge, temperature,
        lambda p, ell: p * (ell - (p * ell).sum(0, keepdim=True)))


def grad_J(energy, cost, x, y, beta: float = 1.0, temperature: float = 1.0):
    """∇θ of the batch mean of J_β by Thm 3.1, as a :class:`~thermoep.Gradient`."""
    beta = _checks.finite_float("beta", beta)
    g1 = expected_param_grad(energy, cost, x, y, beta, temperature)
    g0 = expected_param_grad(energy, cost, x, y, 0.0, temperature)
    return Gradient({k: g1[k] - g0[k] for k in g1}, nudged_phases=1,
                    stats={"method": "exact enumeration", "beta": beta,
                           "temperature": float(temperature)})


def grad_L(energy, cost, x, y, beta: float = 1.0, temperature: float = 1.0):
    """∇θ of the batch mean of L_β = J_β/β: what every estimator estimates."""
    beta = _checks.finite_float("beta", beta, allow_zero=False)
    g = grad_J(energy, cost, x, y, beta, temperature)
    return g.scaled(1.0 / beta)

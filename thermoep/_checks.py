"""Small argument checks shared by the library: every user error is a ValueError/TypeError that
names the offending value and the accepted range."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch


def finite_float(name: str, value: object, *, allow_zero: bool = True) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a real number, got {value!r} ({type(value).__name__})")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if not allow_zero and value == 0.0:
        raise ValueError(f"{name} must be non-zero (accepted: any finite value except 0), got 0")
    return value


def positive_float(name: str, value: object, *, allow_zero: bool = False) -> float:
    value = finite_float(name, value)
    if value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be {bound}, got {value}")
    return value


def positive_int(name: str, value: object, *, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {value!r} ({type(value).__name__})")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value}")
    return value


def probability(name: str, value: object) -> float:
    value = finite_float(name, value)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must lie in [0, 1], got {value}")
    return value


def layer_sizes(sizes: Sequence[int]) -> tuple[int, ...]:
    if isinstance(sizes, (str, bytes)) or not isinstance(sizes, Sequence):
        raise TypeError(f"sizes must be a sequence of ints like [784, 256, 10], got {sizes!r}")
    sizes = tuple(sizes)
    if len(sizes) < 2:
        raise ValueError(
            f"sizes needs an input size and at least one free layer (len >= 2), got {list(sizes)}"
        )
    for n in sizes:
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"every layer size must be a positive int, got {list(sizes)}")
    return sizes


def input_batch(x: torch.Tensor, n_in: int, *, dtype: torch.dtype, device) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(
            f"x must be a torch.Tensor of shape [batch, {n_in}], got {type(x).__name__}"
        )
    if x.dim() != 2 or x.shape[1] != n_in:
        raise ValueError(f"x must have shape [batch, {n_in}], got {list(x.shape)}")
    if not torch.isfinite(x).all():
        raise ValueError("x contains non-finite values (NaN or inf)")
    return x.to(dtype=dtype, device=device)


def all_finite(tensors) -> bool:
    """Every element of every tensor is finite, read back with one host synchronisation: a sum
    of finite terms is finite, and NaN or ±inf in a term makes the sum non-finite (a sum that
    overflows is checked again elementwise)."""
    ts = [t.detach() for t in tensors]
    if not ts:
        return True
    sums = torch.stack([t.sum().to(torch.float64) if not t.is_complex() else
                        t.sum().abs().to(torch.float64) for t in ts])
    if bool(torch.isfinite(sums).all()):
        return True
    return all(bool(torch.isfinite(t).all()) for t in ts)


def finite_parameters(module: torch.nn.Module) -> None:
    params = list(module.named_parameters())
    if all_finite(p for _, p in params):
        return
    for name, p in params:
        if not torch.isfinite(p).all():
            raise ValueError(
                f"parameter {name!r} contains non-finite values (NaN or inf); all weights must "
                "be finite"
            )

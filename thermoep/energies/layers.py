"""Layers: a name, a shape and a unit kind. The input is a clamped layer."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .units import Linear, Unit
from .units import unit as make_unit


def _shape(shape) -> tuple[int, ...]:
    if isinstance(shape, int) and not isinstance(shape, bool):
        shape = (shape,)
    try:
        shape = tuple(shape)
    except TypeError:
        raise TypeError(f"a layer shape is an int or a tuple like (C, H, W), got {shape!r}") \
            from None
    if not shape or len(shape) > 3 or any(isinstance(n, bool) or not isinstance(n, int) or n < 0
                                          for n in shape):
        raise ValueError(f"a layer shape is (n,) or (C, H, W) of non-negative ints, got "
                         f"{shape!r}")
    return shape


@dataclass(frozen=True)
class Layer:
    """A group of units: ``Layer("h1", 256, "tanh")``, ``Layer("c1", (32, 14, 14),
    "hardsigmoid")``. ``clamped`` layers (the input) are fixed to the data and are not part of
    the state.
    """

    name: str
    shape: tuple[int, ...]
    unit: Unit = field(default_factory=Linear)
    clamped: bool = False

    def __init__(self, name: str, shape, unit: str | Unit = "linear", *,
                 clamped: bool = False) -> None:
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"a layer name must be a Python identifier (it names parameters), "
                             f"got {name!r}")
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "shape", _shape(shape))
        object.__setattr__(self, "unit", make_unit(unit))
        object.__setattr__(self, "clamped", bool(clamped))

    @property
    def size(self) -> int:
        """Number of units."""
        return math.prod(self.shape)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __repr__(self) -> str:
        shape = self.shape[0] if len(self.shape) == 1 else self.shape
        kind = "Input" if self.clamped else "Layer"
        return (f"{kind}({self.name!r}, {shape})" if self.clamped
                else f"{kind}({self.name!r}, {shape}, {self.unit.name!r})")


def Input(name: str, shape) -> Layer:  # noqa: N802 (reads as a layer type)
    """The clamped input layer: ``Input("x", 784)`` or ``Input("x", (1, 28, 28))``."""
    return Layer(name, shape, "linear", clamped=True)


__all__ = ["Input", "Layer"]

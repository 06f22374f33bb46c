"""Named architectures: builders ``(inputs, outputs, **params) -> Energy`` for the run config.

``inputs`` is the shape of one example (``(784,)``, ``(28, 28)``, ``(3, 32, 32)``); ``outputs``
the number of output units, or None when the cost reads the last hidden layer through a
read-out of its own (the energy then ends with its last hidden layer). Each builder's keyword
defaults are the only defaults of its parameters (the config fills them from the signature), and
``discrete`` says whether its units take finitely many values (block Gibbs is then the sampler
a run defaults to).
"""

from __future__ import annotations

import math

from .boltzmann import LayeredBoltzmann
from .hopfield import LayeredHopfield
from .prototypical import PrototypicalHopfield


def architecture(*, discrete: bool = False):
    """Mark a builder (and say whether its units are discrete)."""
    def mark(fn):
        fn.discrete = discrete
        return fn
    return mark


def _sizes(inputs, hidden, outputs) -> list[int]:
    hidden = [int(h) for h in hidden]
    if outputs is None and not hidden:
        raise ValueError("a read-out cost reads the last hidden layer: give at least one hidden "
                         "layer")
    return [math.prod(inputs), *hidden, *([] if outputs is None else [outputs])]


@architecture()
def hopfield(inputs, outputs, *, hidden=(256,), activation: str = "tanh",
             init_scale: float | None = None):
    """:class:`~thermoep.LayeredHopfield` on the flattened input: interactions through ρ(s),
    self term ½‖s‖² (Scellier & Bengio 2017)."""
    return LayeredHopfield(_sizes(inputs, hidden, outputs), activation, init_scale=init_scale)


@architecture()
def prototypical(inputs, outputs, *, hidden=(256,), activation: str = "tanh",
                 init_scale: float | None = None):
    """:class:`~thermoep.PrototypicalHopfield`: bilinear couplings, s ← σ(h) (Ernoult et al.
    2019; the model of Laborieux et al. 2021 and of the hybrid-EP seed; T = 0 only)."""
    return PrototypicalHopfield(_sizes(inputs, hidden, outputs), activation,
                                init_scale=init_scale)


@architecture(discrete=True)
def boltzmann(inputs, outputs, *, hidden=(256,), init_scale: float | None = None):
    """:class:`~thermoep.LayeredBoltzmann`: binary units, block Gibbs."""
    return LayeredBoltzmann(_sizes(inputs, hidden, outputs), init_scale=init_scale)


ENERGIES = {"hopfield": hopfield, "prototypical": prototypical, "boltzmann": boltzmann}

__all__ = ["ENERGIES", "architecture", "boltzmann", "hopfield", "prototypical"]

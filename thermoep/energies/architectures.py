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

from torch.nn.utils.parametrizations import spectral_norm as _spectral_norm

from .boltzmann import LayeredBoltzmann
from .hopfield import LayeredHopfield
from .interactions import Bias, Conv2d, Dense, Lateral, ModernHopfield, ring
from .layers import Input, Layer
from .model import Energy
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


def spectrally_normalised(energy: Energy) -> Energy:
    """Spectral normalisation (Miyato et al. 2018) of every term's ``weight``, W ↦ W/σ(W)
    (``torch.nn.utils.parametrizations.spectral_norm``), as spectral-normalization-eqprop §4
    applies it to all weight matrices; the estimators differentiate through it."""
    for _key, term, _names in energy.terms():
        if "weight" in dict(term.named_parameters()) or hasattr(term, "parametrizations"):
            _spectral_norm(term, "weight")
    return energy


def _image(inputs) -> tuple[int, int, int]:
    """(C, H, W) of an example: grayscale (H, W) images get one channel."""
    inputs = tuple(int(n) for n in inputs)
    if len(inputs) == 2:
        return (1, *inputs)
    if len(inputs) == 3:
        return inputs
    raise ValueError(f"a convolutional network needs image inputs (H, W) or (C, H, W), got "
                     f"examples of shape {inputs}")


def _conv_chain(inputs, outputs, channels, *, kernel_size, padding, pool, pool_size, unit,
                output_unit, init_scale):
    if outputs is None:
        raise ValueError("the convolutional networks end with a dense output layer: use a cost "
                         "that reads the output (squared-error, cross-entropy)")
    c, h, w = _image(inputs)
    layers, terms = [Input("x", (c, h, w))], []
    for i, ch in enumerate(int(v) for v in channels):
        h = (h + 2 * padding - kernel_size + 1) // pool_size
        w = (w + 2 * padding - kernel_size + 1) // pool_size
        if h < 1 or w < 1:
            raise ValueError(f"{len(channels)} convolution blocks shrink the {inputs} input to "
                             f"nothing; use fewer channels entries or a larger input")
        layer = Layer(f"c{i + 1}", (ch, h, w), unit)
        terms.append(Conv2d(layers[-1], layer, kernel_size=kernel_size, padding=padding,
                            pool=pool, pool_size=pool_size, init_scale=init_scale))
        terms.append(Bias(layer))
        layers.append(layer)
    out = Layer("y", outputs, output_unit)
    terms += [Dense(layers[-1], out, init_scale=init_scale), Bias(out)]
    return Energy([*layers, out], terms)


@architecture()
def dchn(inputs, outputs, *, channels=(32, 64), kernel_size: int = 3, padding: int = 1,
         pool: str = "max", pool_size: int = 2, activation: str = "hardsigmoid",
         output_unit: str = "linear", init_scale: float | None = None,
         spectral_norm: bool = False):
    """Deep convolutional Hopfield network (ebl-algorithms-comparative-study §3): blocks of a
    ``kernel_size`` convolution (padding ``padding``) and ``pool_size`` pooling between
    hard-sigmoid layers, E = Σ ½‖s‖² − Σ ρ(s_{l+1})·P(conv(ρ(s_l))) − Σ b·ρ(s), then a dense
    output of linear units. ``channels``: the seed's (128, 256, 512, 512), or a CPU-sized
    (32, 64)."""
    energy = _conv_chain(inputs, outputs, channels, kernel_size=kernel_size, padding=padding,
                         pool=pool, pool_size=pool_size, unit=activation,
                         output_unit=output_unit, init_scale=init_scale)
    return spectrally_normalised(energy) if spectral_norm else energy


@architecture()
def laborieux_cnn(inputs, outputs, *, channels=(128, 256, 512, 512), kernel_size: int = 3,
                  padding: int = 1, activation: str = "prototypical-hardsigmoid",
                  init_scale: float | None = None):
    """The convolutional network of Laborieux et al. (2021, CIFAR-10): 3×3 convolutions and 2×2
    max pooling between layers of the s ← σ(∂Φ/∂s) dynamics (prototypical units, Φ bilinear),
    128-256-512-512 channels, a dense output of the same units."""
    return _conv_chain(inputs, outputs, channels, kernel_size=kernel_size, padding=padding,
                       pool="max", pool_size=2, unit=activation, output_unit=activation,
                       init_scale=init_scale)


@architecture()
def hybrid_ep_cnn(inputs, outputs, *, channels=(32, 64, 128), kernel_size: int = 3,
                  padding: int = 1, activation: str = "prototypical-hardsigmoid",
                  init_scale: float | None = None):
    """The lighter CIFAR-10 network of the hybrid-EP seed (its Table 5): three 3×3 conv blocks
    of 32-64-128 channels with 2×2 max pooling, in Laborieux et al.'s dynamics."""
    return _conv_chain(inputs, outputs, channels, kernel_size=kernel_size, padding=padding,
                       pool="max", pool_size=2, unit=activation, output_unit=activation,
                       init_scale=init_scale)


def _recurrent(inputs, outputs, hidden, recurrence, *, activation, init_scale, spectral_norm):
    """x → h (with a coupling of h to itself) → output: the spectral-normalization-eqprop
    models. Prototypical units, so the relaxation with step γ is the seed's damped fixed-point
    map h ← (1 − γ)h + γ tanh(field)."""
    unit = f"prototypical-{activation}"
    if isinstance(hidden, (list, tuple)):  # the command line's --hidden is a list
        if len(hidden) != 1:
            raise ValueError(f"this architecture has one hidden layer, got hidden={list(hidden)}")
        hidden = hidden[0]
    x, h = Input("x", math.prod(inputs)), Layer("h", int(hidden), unit)
    layers, terms = [x, h], [Dense(x, h, init_scale=init_scale), Bias(h), recurrence(h)]
    if outputs is not None:
        y = Layer("y", outputs, unit)
        layers.append(y)
        terms += [Dense(h, y, init_scale=init_scale), Bias(y)]
    energy = Energy(layers, terms)
    return spectrally_normalised(energy) if spectral_norm else energy


@architecture()
def looped_mlp(inputs, outputs, *, hidden: int = 256, activation: str = "tanh",
               init_scale: float | None = None, spectral_norm: bool = True):
    """LoopedMLP: one hidden layer with a symmetric all-to-all recurrence (``Lateral``)."""
    return _recurrent(inputs, outputs, hidden, lambda h: Lateral(h, init_scale=init_scale),
                      activation=activation, init_scale=init_scale, spectral_norm=spectral_norm)


@architecture()
def toroidal_mlp(inputs, outputs, *, hidden: int = 256, neighbours: int = 1,
                 activation: str = "tanh", init_scale: float | None = None,
                 spectral_norm: bool = True):
    """ToroidalMLP: the recurrence under a ring mask (each unit coupled to its ``neighbours``
    nearest units on each side)."""
    return _recurrent(inputs, outputs, hidden,
                      lambda h: Lateral(h, ring(h.size, int(neighbours)),
                                        init_scale=init_scale),
                      activation=activation, init_scale=init_scale, spectral_norm=spectral_norm)


@architecture()
def modern_eqprop(inputs, outputs, *, hidden: int = 256, patterns: int = 64,
                  beta: float = 1.0, activation: str = "tanh",
                  init_scale: float | None = None, spectral_norm: bool = True):
    """ModernEqProp: the hidden layer's recurrence is the attention-style modern-Hopfield term
    −(1/λ) log Σ_μ exp(λ ξ_μ·ρ(h)) over ``patterns`` learned patterns (λ = ``beta``)."""
    return _recurrent(inputs, outputs, hidden,
                      lambda h: ModernHopfield(h, patterns=int(patterns), beta=beta,
                                               init_scale=init_scale),
                      activation=activation, init_scale=init_scale, spectral_norm=spectral_norm)


ENERGIES = {"hopfield": hopfield, "prototypical": prototypical, "boltzmann": boltzmann,
            "dchn": dchn, "laborieux-cnn": laborieux_cnn, "hybrid-ep-cnn": hybrid_ep_cnn,
            "looped-mlp": looped_mlp, "toroidal-mlp": toroidal_mlp,
            "modern-eqprop": modern_eqprop}

__all__ = ["ENERGIES", "architecture", "boltzmann", "dchn", "hopfield", "hybrid_ep_cnn",
           "laborieux_cnn", "looped_mlp", "modern_eqprop", "prototypical",
           "spectrally_normalised", "toroidal_mlp"]

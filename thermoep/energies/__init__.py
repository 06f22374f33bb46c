"""Energies E_θ(s; x): layers (unit kinds) plus interactions (terms), and the named families
built on them (one file per concept)."""

from .architectures import ENERGIES
from .boltzmann import LayeredBoltzmann
from .dropout import UnitDropout
from .gaussian import GaussianEnergy
from .hopfield import ACTIVATIONS, LayeredHopfield
from .interactions import (
    INTERACTIONS,
    Bias,
    Conv2d,
    Dense,
    Interaction,
    Lateral,
    ModernHopfield,
    NearestNeighbour,
    Quadratic,
    lattice,
    ring,
)
from .layered import LayeredEnergy
from .layers import Input, Layer
from .model import BlockPart, Energy, State
from .prototypical import PROTOTYPICAL_ACTIVATIONS, PrototypicalHopfield
from .units import UNITS, Unit

__all__ = ["ACTIVATIONS", "ENERGIES", "INTERACTIONS", "PROTOTYPICAL_ACTIVATIONS", "UNITS",
           "Bias", "BlockPart", "Conv2d", "Dense", "Energy", "GaussianEnergy", "Input",
           "Interaction", "Lateral", "Layer", "LayeredBoltzmann", "LayeredEnergy",
           "LayeredHopfield", "ModernHopfield", "NearestNeighbour", "PrototypicalHopfield",
           "Quadratic", "State",
           "Unit", "UnitDropout", "lattice", "ring"]

"""Energies E_θ(s; x): one file per family; the shared layered machinery lives in base.py."""

from .base import LayeredEnergy, State
from .boltzmann import LayeredBoltzmann
from .dropout import UnitDropout
from .gaussian import GaussianEnergy
from .hopfield import ACTIVATIONS, LayeredHopfield
from .prototypical import PROTOTYPICAL_ACTIVATIONS, PrototypicalHopfield

ENERGIES = {"hopfield": LayeredHopfield, "prototypical": PrototypicalHopfield,
            "boltzmann": LayeredBoltzmann}

__all__ = ["ACTIVATIONS", "ENERGIES", "GaussianEnergy", "LayeredBoltzmann", "LayeredEnergy",
           "LayeredHopfield", "PROTOTYPICAL_ACTIVATIONS", "PrototypicalHopfield", "State",
           "UnitDropout"]

"""Energies E_θ(s; x): one file per family; the shared layered machinery lives in base.py."""

from .base import LayeredEnergy, State
from .boltzmann import LayeredBoltzmann
from .gaussian import GaussianEnergy
from .hopfield import ACTIVATIONS, LayeredHopfield

ENERGIES = {"hopfield": LayeredHopfield, "boltzmann": LayeredBoltzmann}

__all__ = ["ACTIVATIONS", "ENERGIES", "GaussianEnergy", "LayeredBoltzmann", "LayeredEnergy",
           "LayeredHopfield", "State"]

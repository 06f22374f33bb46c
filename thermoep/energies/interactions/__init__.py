"""Interactions: the terms an energy is the sum of (one file per term)."""

from .base import Interaction
from .bias import Bias
from .conv import Conv2d
from .dense import Dense
from .lateral import Lateral, lattice, ring
from .modern_hopfield import ModernHopfield
from .nearest_neighbour import NearestNeighbour
from .quadratic import Quadratic

INTERACTIONS = {"bias": Bias, "dense": Dense, "conv2d": Conv2d, "lateral": Lateral,
                "nearest-neighbour": NearestNeighbour, "modern-hopfield": ModernHopfield,
                "quadratic": Quadratic}

__all__ = ["INTERACTIONS", "Bias", "Conv2d", "Dense", "Interaction", "Lateral",
           "ModernHopfield", "NearestNeighbour", "Quadratic", "lattice", "ring"]

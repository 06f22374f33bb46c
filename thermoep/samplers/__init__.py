"""Samplers of p_b ∝ exp(−(E + bℓ)/T): relaxation (T = 0), Langevin/MALA, block Gibbs, exact."""

from . import exact
from .base import MonteCarloSampler, Phase
from .gibbs import Gibbs
from .langevin import Langevin
from .nuts import HMC, NUTS
from .relax import Relaxation

SAMPLERS = {
    "relax": Relaxation,
    "langevin": Langevin,
    "mala": lambda **kw: Langevin(metropolis=True, **kw),
    "gibbs": Gibbs,
    "nuts": NUTS,
    "hmc": HMC,
}

__all__ = ["HMC", "NUTS", "SAMPLERS", "Gibbs", "Langevin", "MonteCarloSampler", "Phase",
           "Relaxation", "exact"]

"""Samplers of p_b ∝ exp(−(E + bℓ)/T): relaxation (T = 0), Langevin/MALA, block Gibbs, Pyro's
NUTS/HMC, replica exchange over any of the Markov-chain samplers; exact enumeration and annealed
importance sampling of log Z; the shared loop and the sampler contract.

``ReplicaExchange`` wraps a sampler object, so it is exported rather than registered in
``SAMPLERS`` (whose members are built from scalar keyword arguments by the configuration)."""

from functools import partial

from . import exact
from .annealing import log_partition_ais
from .base import Phase, Target, check_nudge, prepare
from .gibbs import Gibbs
from .langevin import Langevin
from .loop import sample
from .monte_carlo import MonteCarloSampler
from .nuts import HMC, NUTS
from .relax import Relaxation
from .replica_exchange import ReplicaExchange, ReplicaState, Rung

SAMPLERS = {
    "relax": Relaxation,
    "langevin": Langevin,
    "mala": partial(Langevin, metropolis=True),
    "gibbs": Gibbs,
    "nuts": NUTS,
    "hmc": HMC,
}

__all__ = ["HMC", "NUTS", "SAMPLERS", "Gibbs", "Langevin", "MonteCarloSampler", "Phase",
           "Relaxation", "ReplicaExchange", "ReplicaState", "Rung", "Target", "check_nudge",
           "exact", "log_partition_ais", "prepare", "sample"]

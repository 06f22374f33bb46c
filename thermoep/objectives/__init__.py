"""Gradient estimators (one file per family) and the references they are tested against."""

from ..schedules import RandomSign
from .backprop import Backprop
from .base import Estimator
from .centered import Centered
from .contrastive import ContrastiveLearning, CoupledLearning
from .gradient import Gradient
from .higher_order import HigherOrder
from .hybrid import AdaptiveHybrid, Hybrid
from .one_sided import FiniteNudge, OneSided
from .path_integral import PathIntegral
from .references import bptt_grad, gaussian_grad_L, implicit_grad

ESTIMATORS = {
    "one-sided": OneSided,
    # Laborieux et al. 2021: the sign of β drawn per batch; E over the sign is centered
    "one-sided-random-sign": lambda sampler=None, beta=0.2: OneSided(
        sampler, beta, beta_schedule=RandomSign(beta)),
    "negative": lambda sampler=None, beta=0.2: OneSided(sampler, -abs(beta)),
    "centered": Centered,
    "finite-nudge": FiniteNudge,
    "path-integral": PathIntegral,
    "backprop": Backprop,
    "higher-order": HigherOrder,
    "hybrid-cosine": lambda sampler=None, beta=0.2: Hybrid(sampler, beta, schedule="cosine"),
    "hybrid-inverse-cosine": lambda sampler=None, beta=0.2: Hybrid(
        sampler, beta, schedule="inverse-cosine"),
    "hybrid-stochastic": lambda sampler=None, beta=0.2: Hybrid(sampler, beta,
                                                               schedule="stochastic"),
    "hybrid-higher-order": lambda sampler=None, beta=0.2: Hybrid(
        sampler, beta, schedule="cosine", accurate="higher-order"),
    "adaptive-hybrid": AdaptiveHybrid,
    "contrastive": ContrastiveLearning,
    "p-cpl": lambda sampler=None, beta=0.2: CoupledLearning(sampler, beta, variant="positive"),
    "n-cpl": lambda sampler=None, beta=0.2: CoupledLearning(sampler, beta, variant="negative"),
    "c-cpl": lambda sampler=None, beta=0.2: CoupledLearning(sampler, beta, variant="centered"),
}

__all__ = ["ESTIMATORS", "AdaptiveHybrid", "Backprop", "ContrastiveLearning", "CoupledLearning",
           "HigherOrder", "Hybrid", "Centered", "Estimator", "FiniteNudge", "Gradient", "OneSided",
           "PathIntegral", "bptt_grad", "gaussian_grad_L", "implicit_grad"]

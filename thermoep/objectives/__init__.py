"""Gradient estimators (one file per family) and the references they are tested against.

:data:`ESTIMATORS` maps a name to a constructor (a class, or a class with some keywords fixed);
its keyword defaults are the only defaults a run config knows.
"""

from functools import partial

from ..gradient import Gradient
from .backprop import Backprop
from .base import Estimator
from .centered import Centered
from .contrastive import ContrastiveLearning, CoupledLearning
from .higher_order import HigherOrder
from .holomorphic import HolomorphicEP
from .hybrid import AdaptiveHybrid, Hybrid
from .one_sided import FiniteNudge, NegativeOneSided, OneSided, RandomSignOneSided
from .path_integral import PathIntegral
from .references import bptt_grad, gaussian_grad_L, implicit_grad

ESTIMATORS = {
    "one-sided": OneSided,
    "one-sided-random-sign": RandomSignOneSided,
    "negative": NegativeOneSided,
    "centered": Centered,
    "finite-nudge": FiniteNudge,
    "path-integral": PathIntegral,
    "backprop": Backprop,
    "higher-order": HigherOrder,
    "holomorphic": HolomorphicEP,
    "hybrid-cosine": partial(Hybrid, schedule="cosine"),
    "hybrid-inverse-cosine": partial(Hybrid, schedule="inverse-cosine"),
    "hybrid-stochastic": partial(Hybrid, schedule="stochastic"),
    "hybrid-higher-order": partial(Hybrid, schedule="cosine", accurate="higher-order"),
    "adaptive-hybrid": AdaptiveHybrid,
    "contrastive": ContrastiveLearning,
    "p-cpl": partial(CoupledLearning, variant="positive"),
    "n-cpl": partial(CoupledLearning, variant="negative"),
    "c-cpl": partial(CoupledLearning, variant="centered"),
}

__all__ = ["ESTIMATORS", "AdaptiveHybrid", "Backprop", "Centered", "ContrastiveLearning",
           "CoupledLearning", "Estimator", "FiniteNudge", "Gradient", "HigherOrder",
           "HolomorphicEP", "Hybrid", "NegativeOneSided", "OneSided", "PathIntegral",
           "RandomSignOneSided", "bptt_grad", "gaussian_grad_L", "implicit_grad"]

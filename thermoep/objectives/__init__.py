"""Gradient estimators (one file per family) and the references they are tested against."""

from .backprop import Backprop
from .base import Estimator
from .centered import Centered
from .gradient import Gradient
from .one_sided import FiniteNudge, OneSided
from .path_integral import PathIntegral
from .references import bptt_grad, gaussian_grad_L, implicit_grad

ESTIMATORS = {
    "one-sided": OneSided,
    "negative": lambda sampler=None, beta=0.2: OneSided(sampler, -abs(beta)),
    "centered": Centered,
    "finite-nudge": FiniteNudge,
    "path-integral": PathIntegral,
    "backprop": Backprop,
}

__all__ = ["ESTIMATORS", "Backprop", "Centered", "Estimator", "FiniteNudge", "Gradient", "OneSided",
           "PathIntegral", "bptt_grad", "gaussian_grad_L", "implicit_grad"]

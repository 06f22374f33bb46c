"""Observers: statistics of the states a sampler keeps (see :mod:`thermoep.observers.base`).

Estimators ask for the statistics they need — :class:`MeanParamGrad` (E_b[∂θE] per chain),
:class:`CovarianceWithCost` (the path integral's Cov_b(∂θE, ℓ)), :class:`OutputMean`,
:class:`CostMean`, :class:`CostTrace`, :class:`EnergyTrace` — optionally Rao–Blackwellised by a
smoother (:mod:`thermoep.observers.smoothing`). A statistic of one's own is one small class;
:class:`LayerMeanTrace` (a layer's mean: a magnetisation, a mean activity) is one for users.
"""

from .base import Observer, PerChain
from .covariance import CovarianceWithCost
from .moments import CostMean, OutputMean
from .param_grad import MeanParamGrad
from .smoothing import SMOOTHERS, ConditionalSmoother, Smoothed, StepSmoother, plain, smoother
from .traces import CostTrace, EnergyTrace, LayerMeanTrace, Trace

__all__ = ["SMOOTHERS", "ConditionalSmoother", "CostMean", "CostTrace", "CovarianceWithCost",
           "EnergyTrace", "LayerMeanTrace", "MeanParamGrad", "Observer", "OutputMean", "PerChain",
           "Smoothed", "StepSmoother", "Trace", "plain", "smoother"]

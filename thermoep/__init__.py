"""thermoep: thermodynamic (stochastic) and deterministic Equilibrium Propagation in PyTorch.

    import thermoep as te
    net = te.LayeredHopfield([784, 256, 10], activation="tanh")
    est = te.Centered(sampler=te.Relaxation(steps=30), beta=0.2)
    g = est(net, te.SquaredError(), x, y)   # estimate of ∇θ L_β, L_β = J_β / β
    g.apply_(net); optimizer.step()

Signs and conventions: DESIGN.md §1 (p_b ∝ exp(−(E + bℓ)/T), J_β = F_β − F_0).
"""

from . import checkpoints, schedules
from ._version import __version__
from .costs import COSTS, CrossEntropy, SoftmaxReadout, SquaredError
from .energies import (
    ENERGIES,
    GaussianEnergy,
    LayeredBoltzmann,
    LayeredHopfield,
    PrototypicalHopfield,
    UnitDropout,
)
from .objectives import (
    ESTIMATORS,
    AdaptiveHybrid,
    Backprop,
    Centered,
    ContrastiveLearning,
    CoupledLearning,
    FiniteNudge,
    Gradient,
    HigherOrder,
    Hybrid,
    OneSided,
    PathIntegral,
    bptt_grad,
    gaussian_grad_L,
    implicit_grad,
)
from .samplers import HMC, NUTS, SAMPLERS, Gibbs, Langevin, Relaxation, exact

__all__ = [
    "COSTS", "ENERGIES", "ESTIMATORS", "SAMPLERS", "AdaptiveHybrid", "Backprop", "Centered",
    "ContrastiveLearning", "CoupledLearning", "CrossEntropy", "FiniteNudge", "GaussianEnergy",
    "Gibbs", "Gradient", "HMC", "HigherOrder", "Hybrid", "Langevin", "LayeredBoltzmann",
    "LayeredHopfield", "NUTS", "OneSided", "PathIntegral", "PrototypicalHopfield", "Relaxation",
    "SoftmaxReadout", "SquaredError", "UnitDropout",
    "__version__",
    "bptt_grad", "checkpoints", "exact", "gaussian_grad_L", "implicit_grad", "schedules",
]

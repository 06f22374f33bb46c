"""thermoep: thermodynamic (stochastic) and deterministic Equilibrium Propagation in PyTorch.

    import thermoep as te
    net = te.LayeredHopfield([784, 256, 10], activation="tanh")
    est = te.Centered(sampler=te.Relaxation(steps=30), beta=0.2)
    g = est(net, te.SquaredError(), x, y)   # estimate of ∇θ L_β, L_β = J_β / β
    g.apply_(net); optimizer.step()

An energy is layers plus interactions (``te.Energy([te.Input("x", 784), te.Layer("h", 256,
"tanh"), ...], [te.Dense(...), te.Bias(...), ...])``); samplers produce states; estimators
observe them. Signs and conventions: docs/design.md (p_b ∝ exp(−(E + bℓ)/T), J_β = F_β − F_0).
"""

from . import checkpoints, observers, schedules
from ._version import __version__
from .costs import COSTS, CrossEntropy, SoftmaxReadout, SquaredError
from .energies import (
    ENERGIES,
    INTERACTIONS,
    UNITS,
    Bias,
    Conv2d,
    Dense,
    Energy,
    GaussianEnergy,
    Input,
    Interaction,
    Lateral,
    Layer,
    LayeredBoltzmann,
    LayeredHopfield,
    ModernHopfield,
    NearestNeighbour,
    PrototypicalHopfield,
    Quadratic,
    UnitDropout,
    lattice,
    ring,
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
    HolomorphicEP,
    Hybrid,
    OneSided,
    PathIntegral,
    bptt_grad,
    gaussian_grad_L,
    implicit_grad,
)
from .samplers import (
    HMC,
    NUTS,
    SAMPLERS,
    Gibbs,
    Langevin,
    Relaxation,
    ReplicaExchange,
    Target,
    exact,
    log_partition_ais,
    sample,
)

__all__ = [
    "COSTS", "ENERGIES", "ESTIMATORS", "INTERACTIONS", "SAMPLERS", "UNITS", "AdaptiveHybrid",
    "Backprop", "Bias", "Centered", "ContrastiveLearning", "Conv2d", "CoupledLearning",
    "CrossEntropy", "Dense", "Energy", "FiniteNudge", "GaussianEnergy", "Gibbs", "Gradient", "HMC",
    "HigherOrder", "HolomorphicEP", "Hybrid", "Input", "Interaction", "Langevin", "Lateral",
    "Layer", "LayeredBoltzmann", "LayeredHopfield", "ModernHopfield", "NUTS", "NearestNeighbour",
    "OneSided", "PathIntegral", "PrototypicalHopfield", "Quadratic", "Relaxation",
    "ReplicaExchange", "SoftmaxReadout",
    "SquaredError", "Target", "UnitDropout", "__version__", "bptt_grad", "checkpoints", "exact",
    "gaussian_grad_L", "implicit_grad", "lattice", "log_partition_ais", "observers", "ring",
    "sample", "schedules",
]

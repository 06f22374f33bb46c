"""Reference problems with known answers, shared by the test files (after torchdiffeq's
tests/problems.py): enumerable binary Boltzmann machines, Gaussian energies with closed-form
moments, and small contractive Hopfield networks with an implicit gradient."""

from __future__ import annotations

import torch

import thermoep as te


def generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def binary_problem(sizes=(3, 4, 2), batch=3, scale=1.0, seed=0):
    """A random LayeredBoltzmann with binary inputs and class targets."""
    torch.manual_seed(seed)
    bm = te.LayeredBoltzmann(list(sizes), init_scale=scale)
    g = generator(seed + 1)
    x = torch.randint(0, 2, (batch, sizes[0]), generator=g).to(bm.dtype)
    y = torch.randint(0, sizes[-1], (batch,), generator=g)
    return bm, te.SquaredError(), x, y


def hopfield_problem(sizes=(5, 6, 3), activation="tanh", batch=4, seed=0):
    """A small Hopfield network whose relaxation contracts (default init)."""
    torch.manual_seed(seed)
    net = te.LayeredHopfield(list(sizes), activation)
    g = generator(seed + 1)
    x = torch.randn(batch, sizes[0], generator=g).to(net.dtype)
    y = torch.randint(0, sizes[-1], (batch,), generator=g)
    return net, te.SquaredError(), x, y


def gaussian_problem(n_in=3, n=4, batch=2, seed=0):
    """Gaussian energy with a random SPD precision (eigenvalues in [1, 3])."""
    g = generator(seed)
    q, _ = torch.linalg.qr(torch.randn(n, n, generator=g, dtype=torch.float64))
    eig = 1.0 + 2.0 * torch.rand(n, generator=g, dtype=torch.float64)
    precision = (q * eig) @ q.T
    precision = 0.5 * (precision + precision.T)
    torch.manual_seed(seed)
    energy = te.GaussianEnergy([n_in, n], precision.to(torch.get_default_dtype()))
    x = torch.randn(batch, n_in, generator=g).to(energy.dtype)
    y = torch.randn(batch, n, generator=g).to(energy.dtype)
    return energy, te.SquaredError(), x, y


def observed_grad(sampler, energy, cost, x, y, nudge, **kw):
    """One phase of ``sampler`` observed with its mean parameter gradient: (phase, gradient)."""
    from thermoep.observers import CostMean, MeanParamGrad, OutputMean

    ph = sampler.run(energy, cost, x, y, nudge, observers=[MeanParamGrad(), OutputMean(),
                                                           CostMean()], **kw)
    return ph, ph["param_grad"].mean


def max_z(estimate: te.Gradient, reference, floor: float = 1e-12) -> float:
    """Largest |estimate − reference| / standard error over every parameter entry."""
    z = 0.0
    for k, v in estimate.items():
        se = estimate.stats["se"][k]
        err = (v - reference[k]).abs()
        z = max(z, float((err / se.clamp_min(floor)).max()))
    return z


class float64_default:
    """Context manager: float64 as the default dtype (for hypothesis tests, which cannot take
    function-scoped fixtures)."""

    def __enter__(self):
        self.old = torch.get_default_dtype()
        torch.set_default_dtype(torch.float64)

    def __exit__(self, *exc):
        torch.set_default_dtype(self.old)

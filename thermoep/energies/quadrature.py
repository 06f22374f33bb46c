"""Gauss–Hermite rules for expectations under a Gaussian, E[f(m + σξ)], ξ ~ N(0, 1).

    E[f(m + √v ξ)] ≈ Σ_k w_k / √π · f(m + √(2v) x_k),

with (x_k, w_k) the k-node physicists' rule (numpy.polynomial.hermite.hermgauss), exact for
polynomials of degree 2k − 1. Measured against a 250-node rule (ρ = tanh, sigmoid4, |m| ≤ 30):
4 nodes err < 1e-10 for v ≤ 1e-3 (the Langevin noise 2ηT at T = 0.001, η = 0.4), 8 nodes < 1e-10
for v ≤ 0.01, 64 nodes < 1e-7 for v ≤ 0.5.
"""

from __future__ import annotations

import numpy as np

HERMITE = {k: np.polynomial.hermite.hermgauss(k) for k in (3, 4, 8, 16, 32, 64)}


def hermite_rule(var: float) -> tuple[np.ndarray, np.ndarray]:
    """(nodes, weights) of the rule used for Gaussian noise of variance ``var``."""
    return HERMITE[4 if var <= 1e-3 else 8 if var <= 0.01 else 64]


def laplace_rule(temperature: float, double: bool,
                 shifted: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(nodes, weights) for a density exp(−φ/T) expanded around its mode (adaptive
    Gauss–Hermite, :class:`thermoep.energies.laws.TanhLaw`): 8 nodes for T ≤ 0.001 in float64,
    16 up to 0.01, 32 up to 0.1, 64 above. Below float64 at T ≤ 0.001, 3 nodes for a hidden
    unit's law (κ = 1, λ = 0: tanh's mean within 2.1e-7 of adaptive quadrature at T = 0.001
    for |g| ≤ 30, float32's own resolution near ±1) and 4 for a ``shifted`` one (κ ≠ 1 or
    λ ≠ 0, a nudged output: 3 nodes leave 4e-6 at κ = 0.3, 4 nodes 1.3e-6)."""
    T = temperature
    if T <= 1e-3:
        return HERMITE[8 if double else 4 if shifted else 3]
    return HERMITE[16 if T <= 0.01 else 32 if T <= 0.1 else 64]

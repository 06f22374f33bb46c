"""Unit kinds: what one unit of a layer is.

A unit kind fixes the interaction value ρ(s) through which a unit couples to the rest of the
network, its self term c(s) (the energy of the unit alone), the set its state lives in, and the
law of one unit given its field (for Gibbs sampling and conditional Rao–Blackwellisation):

    E(s) = Σ_units c(s_i) + Σ_interactions E_k(ρ(s)),     field h_i = −∂(Σ_k E_k)/∂ρ(s_i).

| kind | ρ(s) | c(s) | states |
|---|---|---|---|
| ``tanh`` | tanh s | ½s² | ℝ |
| ``hardsigmoid`` | clip(s, 0, 1) | ½s² | ℝ (minimisers in [0, 1]) |
| ``sigmoid4`` | σ(4(s − ½)) (Laborieux et al. 2021) | ½s² | ℝ |
| ``linear`` | s | ½s² | ℝ (Gaussian) |
| ``binary`` | s | 0 | {0, 1} |
| ``spin`` | s | 0 | {−1, +1} |
| ``prototypical-{tanh,sigmoid4,hardsigmoid}`` | s | ∫σ⁻¹ | σ's range |

The prototypical kinds are the units of Ernoult et al. (2019) and Laborieux et al. (2021):
bilinear couplings and the self term G = ∫σ⁻¹, so the unit's minimiser given its field is
σ(h) (the dynamics s ← σ(∂Φ/∂s)). Unit kinds hold mathematics only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from .laws import BernoulliLaw, GaussianLaw, TanhLaw, fast_tanh, one_minus_square
from .quadrature import hermite_rule


@dataclass(frozen=True)
class Support:
    """Where a unit's energy is finite: ``real`` (ℝ), ``interval`` (an open interval
    (low, high)), ``box`` (a closed box [low, high]) or ``discrete`` (the given values)."""

    kind: str
    low: float = -math.inf
    high: float = math.inf
    values: tuple[float, ...] = ()


REAL = Support("real")


class Unit:
    """Base class of the unit kinds (module docstring)."""

    name = "unit"
    support: Support = REAL
    #: closed box holding every minimiser of the energy (the relaxation projects onto it)
    box: tuple[float, float] | None = None
    #: curvature of c far from the origin where ρ is bounded (None: states are bounded)
    far_curvature: float | None = 1.0
    #: c'(s) = s (the Hopfield self term ½s²): lets the relaxation fuse its step
    unit_self_grad = False
    #: ρ(s) = s
    identity_rho = False
    #: the law of one unit given its field has a closed form (:meth:`law`)
    has_law = False
    #: ... and exact draws from it are cheap (no mode to find)
    exact_law = False
    #: argmin_u c(u) − ρ(u)·h has a closed form (:meth:`minimiser`)
    has_minimiser = False
    #: ρ is smooth: Gaussian expectations of ρ by quadrature are accurate (:meth:`gaussian_mean`)
    smooth = True
    #: ρ, c and the relaxation's update are holomorphic: the relaxation may run on complex
    #: states (holomorphic EP, complex nudges)
    holomorphic = False

    @property
    def discrete(self) -> bool:
        return self.support.kind == "discrete"

    def __repr__(self) -> str:
        return self.name

    def __eq__(self, other) -> bool:
        return type(other) is type(self) and repr(other) == repr(self)

    def __hash__(self) -> int:
        return hash((type(self), repr(self)))

    # -- ρ and the self term (elementwise) ---------------------------------------------------------
    def rho(self, s: Tensor) -> Tensor:
        return s

    def rho_prime(self, s: Tensor) -> Tensor:
        return torch.ones_like(s)

    def rho_and_prime(self, s: Tensor) -> tuple[Tensor, Tensor | None]:
        """(ρ(s), ρ'(s)), sharing work; ρ' is None where it is identically 1."""
        return self.rho(s), (None if self.identity_rho else self.rho_prime(s))

    def self_energy(self, s: Tensor) -> Tensor:
        """c(s) per unit."""
        return 0.5 * s * s

    def self_grad(self, s: Tensor) -> Tensor:
        return s

    def project(self, s: Tensor) -> Tensor:
        """Onto the set that holds every minimiser (identity unless the kind has a box)."""
        return s

    @property
    def needs_projection(self) -> bool:
        return self.box is not None or self.support.kind == "interval"

    def initial(self, shape, *, dtype, device, generator=None) -> Tensor:
        """The state a relaxation or chain starts from (zero unless the kind says otherwise)."""
        return torch.zeros(shape, dtype=dtype, device=device)

    # -- laws --------------------------------------------------------------------------------------
    def law(self, field: Tensor, temperature: float, curvature=0.0, linear=0.0, start=None):
        """The law of one unit given its field h under φ(u) = c(u) − ρ(u)h + ½κ'u² − λu
        (κ' = ``curvature``, λ = ``linear``; see :mod:`thermoep.energies.laws`)."""
        raise TypeError(f"{self.name} units have no closed-form law given their field, so "
                        "block Gibbs and conditional Rao–Blackwellisation cannot use them; "
                        "use tanh, linear, binary or spin units, or a Langevin sampler")

    def minimiser(self, field: Tensor) -> Tensor:
        raise TypeError(f"{self.name} units have no closed-form minimiser")

    def gaussian_mean(self, mean: Tensor, var: float, times=None) -> Tensor:
        """E[ρ(u)·times(u)] for u ~ N(mean, var) per unit (``times``: elementwise, default 1),
        by Gauss–Hermite quadrature; needs a smooth ρ."""
        if not self.smooth:
            raise ValueError(f"Gaussian expectations use Gauss–Hermite quadrature, which needs a "
                             f"smooth activation (tanh, sigmoid4, linear), not {self.name}")
        nodes, weights = hermite_rule(var)
        sd = math.sqrt(2.0 * var)
        base = self._gaussian_base(mean)
        out = torch.zeros_like(mean)
        for node, weight in zip(nodes, weights, strict=True):
            f = self._gaussian_node(mean, sd * float(node), base)
            if times is not None:
                f = f * times(mean + sd * float(node))
            out = out + (float(weight) / math.sqrt(math.pi)) * f
        return out

    def _gaussian_base(self, mean: Tensor):
        """What every node of :meth:`gaussian_mean` shares (None by default)."""
        return None

    def _gaussian_node(self, mean: Tensor, d: float, base) -> Tensor:
        """ρ(mean + d) (kinds override it to reuse one transcendental per unit)."""
        return self.rho(mean + d)


class Tanh(Unit):
    """ρ = tanh, c = ½s² (Scellier & Bengio 2017)."""
    holomorphic = True

    name = "tanh"
    unit_self_grad = True
    has_law = True

    # ρ by fast_tanh: every sampler step and relaxation step evaluates it on every unit
    def rho(self, s):
        return fast_tanh(s)

    def rho_prime(self, s):
        return one_minus_square(fast_tanh(s))

    def rho_and_prime(self, s):
        r = fast_tanh(s)
        return r, one_minus_square(r)

    def law(self, field, temperature, curvature=0.0, linear=0.0, start=None):
        return TanhLaw(field, temperature, 1.0 + curvature, linear, start)

    # Gaussian expectations with one transcendental per unit, not one per node:
    # tanh(m + d) = (t + τ)/(1 + tτ) with t = tanh(m), τ = tanh(d)
    def _gaussian_base(self, mean):
        return fast_tanh(mean)

    def _gaussian_node(self, mean, d, base):
        tau = math.tanh(d)
        return (base + tau) / (1.0 + tau * base)


class HardSigmoid(Unit):
    """ρ = clip(s, 0, 1), c = ½s². Every minimiser lies in [0, 1] (outside, ρ is flat and ½s²
    only grows), so a relaxation may project onto the box without changing a fixed point."""

    name = "hardsigmoid"
    box = (0.0, 1.0)
    far_curvature = None  # states of the relaxation live in [0, 1]: every nudge is proper
    unit_self_grad = True
    smooth = False

    def rho(self, s):
        return s.clamp(0.0, 1.0)

    def rho_prime(self, s):
        return ((s >= 0.0) & (s <= 1.0)).to(s.dtype)

    def rho_and_prime(self, s):
        return self.rho(s), self.rho_prime(s)

    def project(self, s):
        return s.clamp(0.0, 1.0)


class Sigmoid4(Unit):
    """ρ(s) = σ(4(s − ½)), c = ½s² (the activation of Laborieux et al. 2021)."""
    holomorphic = True

    name = "sigmoid4"
    unit_self_grad = True

    def rho(self, s):
        return torch.sigmoid(4.0 * s - 2.0)

    def rho_prime(self, s):
        r = torch.sigmoid(4.0 * s - 2.0)
        return 4.0 * r * (1.0 - r)

    def rho_and_prime(self, s):
        r = torch.sigmoid(4.0 * s - 2.0)
        return r, (4.0 * r) * (1.0 - r)

    # σ(4(m + d) − 2) = 1/(1 + e^{2−4m} e^{−4d}): one exp per unit
    def _gaussian_base(self, mean):
        return torch.exp(2.0 - 4.0 * mean)

    def _gaussian_node(self, mean, d, base):
        return 1.0 / (1.0 + math.exp(-4.0 * d) * base)


class Linear(Unit):
    """ρ(s) = s, c = ½s²: Gaussian units."""
    holomorphic = True

    name = "linear"
    unit_self_grad = True
    identity_rho = True
    has_law = True
    exact_law = True

    def law(self, field, temperature, curvature=0.0, linear=0.0, start=None):
        prec = 1.0 + curvature
        return GaussianLaw((field + linear) / prec, temperature / prec)

    def gaussian_mean(self, mean, var, times=None):
        return mean if times is None else super().gaussian_mean(mean, var, times)


def _is_zero(v) -> bool:
    return isinstance(v, (int, float)) and v == 0


def _logit(field, linear, shift, scale: float, temperature: float):
    """scale·(h + λ − shift)/T, skipping the terms that are 0 or 1: block Gibbs builds this
    law every sweep, and at a few chains each skipped kernel is a measurable share of it."""
    z = field if _is_zero(linear) else field + linear
    if not _is_zero(shift):
        z = z - shift
    factor = scale / temperature
    return z if factor == 1.0 else z * factor


class _TwoValued(Unit):
    identity_rho = True
    has_law = True
    exact_law = True
    far_curvature = None
    smooth = False

    def self_energy(self, s):
        return torch.zeros_like(s)

    def self_grad(self, s):
        return torch.zeros_like(s)

    def initial(self, shape, *, dtype, device, generator=None):
        low, high = self.support.values
        bits = torch.randint(0, 2, shape, generator=generator,
                             device=generator.device if generator is not None else device)
        return (low + (high - low) * bits.to(dtype)).to(device)


class Binary(_TwoValued):
    """s ∈ {0, 1}, ρ = s, c = 0 (Boltzmann machines)."""

    name = "binary"
    support = Support("discrete", 0.0, 1.0, (0.0, 1.0))

    def law(self, field, temperature, curvature=0.0, linear=0.0, start=None):
        # φ(1) − φ(0) = −h + ½κ' − λ
        return BernoulliLaw(_logit(field, linear, 0.5 * curvature, 1.0, temperature), 0.0, 1.0)


class Spin(_TwoValued):
    """s ∈ {−1, +1}, ρ = s, c = 0 (Ising models)."""

    name = "spin"
    support = Support("discrete", -1.0, 1.0, (-1.0, 1.0))

    def law(self, field, temperature, curvature=0.0, linear=0.0, start=None):
        # φ(+1) − φ(−1) = −2(h + λ); the quadratic term is the same at ±1
        return BernoulliLaw(_logit(field, linear, 0.0, 2.0, temperature), -1.0, 1.0)


def _tanh_g(s):
    return 0.5 * ((1 + s) * torch.log1p(s) + (1 - s) * torch.log1p(-s))


def _sigmoid4_g(s):
    return 0.5 * s + 0.25 * (torch.xlogy(s, s) + torch.xlogy(1 - s, 1 - s))


#: activation -> (σ, σ⁻¹ = G', G, (low, high))
_PROTOTYPICAL = {
    "tanh": (torch.tanh, torch.atanh, _tanh_g, (-1.0, 1.0)),
    "sigmoid4": (lambda u: torch.sigmoid(4.0 * u - 2.0), lambda s: 0.5 + 0.25 * torch.logit(s),
                 _sigmoid4_g, (0.0, 1.0)),
    "hardsigmoid": (lambda u: u.clamp(0.0, 1.0), lambda s: s, lambda s: 0.5 * s * s,
                    (0.0, 1.0)),
}


class Prototypical(Unit):
    """Bilinear coupling (ρ(s) = s) and self term G = ∫σ⁻¹ for σ ∈ {tanh, sigmoid4,
    hardsigmoid}, so ∂E/∂s = σ⁻¹(s) − h and the unit's minimiser given its field is σ(h):

    - tanh: G(s) = ½[(1+s) log(1+s) + (1−s) log(1−s)], s ∈ (−1, 1);
    - sigmoid4: G(s) = ½s + ¼[s log s + (1−s) log(1−s)], s ∈ (0, 1);
    - hardsigmoid: G(s) = ½s² on [0, 1] (states projected onto the box).
    """

    identity_rho = True
    has_minimiser = True
    far_curvature = None
    smooth = False

    def __init__(self, activation: str = "tanh") -> None:
        if activation not in _PROTOTYPICAL:
            raise ValueError(f"prototypical activation must be one of {sorted(_PROTOTYPICAL)}, "
                             f"got {activation!r}")
        self.activation = activation
        self.name = f"prototypical-{activation}"
        self._sigma, self._sigma_inv, self._g, (low, high) = _PROTOTYPICAL[activation]
        kind = "box" if activation == "hardsigmoid" else "interval"
        self.support = Support(kind, low, high)
        self.box = (low, high) if activation == "hardsigmoid" else None

    def self_energy(self, s):
        return self._g(s)

    def self_grad(self, s):
        return self._sigma_inv(s)

    def minimiser(self, field):
        return self._sigma(field)

    def project(self, s):
        """Clip to the closed box (hard sigmoid) or just inside the open interval (smooth σ,
        where σ⁻¹ is infinite on the boundary; float32 tanh(h) rounds to ±1 for |h| > 9)."""
        lo, hi = self.support.low, self.support.high
        if self.box is not None:
            return s.clamp(lo, hi)
        eps = 4 * torch.finfo(s.dtype).eps
        return s.clamp(lo + eps, hi - eps)

    def initial(self, shape, *, dtype, device, generator=None):
        """σ(0) per unit: inside the interval (0 for tanh, σ(−2) for sigmoid4)."""
        zero = torch.zeros((), dtype=dtype, device=device)
        value = 0.0 if self.activation == "hardsigmoid" else float(self._sigma(zero))
        return torch.full(shape, value, dtype=dtype, device=device)


UNITS = {
    "tanh": Tanh, "hardsigmoid": HardSigmoid, "sigmoid4": Sigmoid4, "linear": Linear,
    "binary": Binary, "spin": Spin,
    "prototypical-tanh": lambda: Prototypical("tanh"),
    "prototypical-sigmoid4": lambda: Prototypical("sigmoid4"),
    "prototypical-hardsigmoid": lambda: Prototypical("hardsigmoid"),
}


def unit(kind: str | Unit) -> Unit:
    """A unit kind from its name (:data:`UNITS`) or as given."""
    if isinstance(kind, Unit):
        return kind
    if kind not in UNITS:
        raise ValueError(f"unknown unit kind {kind!r}; choose one of {sorted(UNITS)}")
    return UNITS[kind]()


__all__ = ["REAL", "UNITS", "Binary", "HardSigmoid", "Linear", "Prototypical", "Sigmoid4",
           "Spin", "Support", "Tanh", "Unit", "unit"]

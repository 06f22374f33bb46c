"""The "prototypical" layered network of Ernoult et al. (2019), used by Laborieux et al. (2021) and
by the hybrid-EP seed (§2.1: "the discrete-time formulation ... governed by a scalar primitive Φ").

Their dynamics are s_l ← σ(∂Φ/∂s_l) with the bilinear primitive Φ = Σ_l s_{l−1}ᵀ W_l s_l + b_lᵀ s_l,
i.e. s_l ← σ(h_l), h_l = s_{l−1} W_l + b_l + s_{l+1} W_{l+1}ᵀ, s_0 := x. Those fixed points are the
stationary points of the energy

    E(s; x) = Σ_l Σ_i G(s_{l,i}) − Σ_l s_{l−1}ᵀ W_l s_l − Σ_l b_lᵀ s_l,    G' = σ⁻¹,

because ∂E/∂s_l = σ⁻¹(s_l) − h_l. G is convex, so minimising E over one parity block with the
other fixed is exactly s_l ← σ(h_l): the relaxation below is block coordinate descent on E (it
decreases E monotonically). With σ:

- tanh:     G(s) = ½[(1+s) log(1+s) + (1−s) log(1−s)],            s ∈ (−1, 1)
- sigmoid4: σ(u) = sigmoid(4(u − ½)),  G(s) = ½s + ¼[s log s + (1−s) log(1−s)],   s ∈ (0, 1)
- hardsigmoid: σ = clip(·, 0, 1),  G(s) = ½s² on [0, 1] (the states are projected onto the box).

In the base-class form (``base.py``) the interaction "ρ" is the identity and the self term is G.
The parameter gradients ∂E/∂W_l = −s_{l−1}ᵀ s_l, ∂E/∂b_l = −s_l are those of the bilinear Φ.

Compared with :class:`~thermoep.energies.LayeredHopfield` (interaction through ρ(s), self term
½‖s‖²) the two agree for the hard sigmoid and differ for tanh / sigmoid4: this is the model whose
published numbers the Fashion-MNIST benchmarks reproduce.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .base import LayeredEnergy, State


def _tanh_g(s: Tensor) -> Tensor:
    return 0.5 * ((1 + s) * torch.log1p(s) + (1 - s) * torch.log1p(-s))


def _sigmoid4_g(s: Tensor) -> Tensor:
    return 0.5 * s + 0.25 * (torch.xlogy(s, s) + torch.xlogy(1 - s, 1 - s))


def _sigmoid4(u: Tensor) -> Tensor:
    return torch.sigmoid(4.0 * u - 2.0)


#: name -> (σ, σ⁻¹ = G', G, open interval of the states)
PROTOTYPICAL_ACTIVATIONS = {
    "tanh": (torch.tanh, torch.atanh, _tanh_g, (-1.0, 1.0)),
    "sigmoid4": (_sigmoid4, lambda s: 0.5 + 0.25 * torch.logit(s), _sigmoid4_g, (0.0, 1.0)),
    "hardsigmoid": (lambda u: u.clamp(0.0, 1.0), lambda s: s, lambda s: 0.5 * s * s,
                    (0.0, 1.0)),
}


class PrototypicalHopfield(LayeredEnergy):
    """Layered network with bilinear couplings and self term G = ∫σ⁻¹ (module docstring).

    Same parameter layout as :class:`LayeredHopfield` (``weights.{l-1}`` ``[n_{l−1}, n_l]``,
    ``biases.{l-1}`` ``[n_l]``). :meth:`descent_step` is the damped fixed-point map
    s ← (1 − η) s + η σ(h − extra), whose fixed points are the stationary points of E + b·ℓ;
    η = 1 (the default relaxation step) makes each parity-block update an exact block
    minimisation. Laborieux et al. update all layers at once (``Relaxation(mode="jacobi")``)
    from zero states; the default here is the even/odd (Gauss–Seidel) order, which decreases E
    monotonically, starting from σ(0) (inside the interval). The fixed points are the same.
    """

    def __init__(self, sizes, activation: str = "tanh", *, init_scale: float | None = None):
        if activation not in PROTOTYPICAL_ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(PROTOTYPICAL_ACTIVATIONS)}, "
                             f"got {activation!r}")
        super().__init__(sizes, init_scale=init_scale)
        self.activation = activation
        self._sigma, self._sigma_inv, self._g, self._interval = \
            PROTOTYPICAL_ACTIVATIONS[activation]

    def extra_repr(self) -> str:
        return f"sizes={list(self.sizes)}, activation={self.activation!r}"

    # interactions are bilinear in the states: "ρ" is the identity
    def rho(self, s: Tensor) -> Tensor:
        return s

    def rho_prime(self, s: Tensor) -> Tensor:
        return torch.ones_like(s)

    def rho_and_prime(self, s: Tensor) -> tuple[Tensor, Tensor | None]:
        return s, None  # the fixed-point step below does not use ρ'

    def self_energy(self, s: Tensor) -> Tensor:
        return self._g(s).sum(-1)

    def self_grad(self, s: Tensor) -> Tensor:
        return self._sigma_inv(s)

    def descent_step(self, i, s, rho_prime, h, eta, extra):
        # ∂E/∂s_i = σ⁻¹(s_i) − ρ_i'⊙h_i (+ extra); ρ_i' is None (≡ 1) without unit scales
        if rho_prime is not None:
            h = h * rho_prime
        target = self._sigma(h if extra is None else h - extra)
        if eta == 1.0:
            return self.project(i, target)
        return self.project(i, torch.lerp(s, target, eta))

    def project(self, i: int, s: Tensor) -> Tensor:
        """Clip to the closed box (hard sigmoid) or just inside the open interval (smooth σ,
        where σ⁻¹ is infinite on the boundary; float32 tanh(h) rounds to ±1 for |h| > 9)."""
        lo, hi = self._interval
        if self.activation == "hardsigmoid":
            return s.clamp(lo, hi)
        eps = 4 * torch.finfo(s.dtype).eps
        return s.clamp(lo + eps, hi - eps)

    @property
    def state_bounds(self):
        """The hard sigmoid's box (units pinned on it); None for the smooth σ, whose states stay
        strictly inside their interval."""
        return self._interval if self.activation == "hardsigmoid" else None

    #: Langevin needs E finite on all of ℝⁿ and no box: G = ∫σ⁻¹ is a barrier for tanh /
    #: sigmoid4, and the hard sigmoid's box would need a reflected/projected sampler.
    langevin_ok = False

    relax_step_size = 1.0

    def init_state(self, batch_shape: tuple[int, ...], generator=None) -> State:
        """σ(0) per unit: 0 for tanh, sigmoid(−2) for sigmoid4 (inside the open interval)."""
        zero = torch.zeros((), dtype=self.dtype, device=self.device)
        value = float(self._sigma(zero)) if self.activation != "hardsigmoid" else 0.0
        return tuple(torch.full((*batch_shape, n), value, dtype=self.dtype, device=self.device)
                     for n in self.layer_sizes)


__all__ = ["PROTOTYPICAL_ACTIVATIONS", "PrototypicalHopfield"]

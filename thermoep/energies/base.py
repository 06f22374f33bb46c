"""The energy protocol and the layered pairwise family it is built on.

State layout (DESIGN.md §1): a state ``s`` is a tuple with one tensor per free layer, each of shape
``[..., batch, n_l]``. Leading dimensions (chains, enumerated configurations) broadcast against the
clamped input ``x`` of shape ``[batch, n_0]``. Energies return ``[..., batch]``.

Every layered energy here has the form (DESIGN.md §2)

    E(s; x) = Σ_l c(s_l) − Σ_l ρ(s_{l−1})ᵀ W_l ρ(s_l) − Σ_l b_lᵀ ρ(s_l),   ρ(s_0) := x,

with a self term ``c`` (½‖s‖² for Hopfield units, 0 for binary units). Its gradients are analytic:

    ∂E/∂s_l = c'(s_l) − ρ'(s_l) ⊙ h_l,   h_l = ρ(s_{l−1}) W_l + b_l + ρ(s_{l+1}) W_{l+1}ᵀ,
    ∂E/∂W_l = −ρ(s_{l−1})ᵀ ρ(s_l),       ∂E/∂b_l = −ρ(s_l).

Layers at even and odd depth do not interact, so the two parity blocks are conditionally
independent given each other: samplers and relaxations read :attr:`blocks` and need no
model-specific code.
"""

from __future__ import annotations

import contextlib
import math

import numpy as np
import torch
from torch import Tensor, nn

from .. import _checks

State = tuple[Tensor, ...]

#: Gauss–Hermite rules for E[f(m + σξ)]. Measured against a 250-node rule (ρ = tanh, sigmoid4,
#: |m| ≤ 30): 4 nodes err < 1e-10 for σ² ≤ 1e-3 (the Langevin noise 2ηT at T = 0.001, η = 0.4),
#: 8 nodes < 1e-10 for σ² ≤ 0.01, 64 nodes < 1e-7 for σ² ≤ 0.5; k nodes are exact for
#: polynomials of degree 2k − 1.
_HERMITE = {k: np.polynomial.hermite.hermgauss(k) for k in (4, 8, 16, 32, 64)}


def hermite_rule(var: float) -> tuple[np.ndarray, np.ndarray]:
    """(nodes, weights) of the Gauss–Hermite rule used for Gaussian noise of variance ``var``:
    E[f(m + √var ξ)] ≈ Σ_k w_k / √π · f(m + √(2 var) x_k)."""
    return _HERMITE[4 if var <= 1e-3 else 8 if var <= 0.01 else 64]


def _weighted_outer(a: Tensor, b: Tensor, per_chain: bool) -> Tensor:
    """Σ over every leading/batch position of aᵀb, keeping dim 0 when ``per_chain``.

    ``a``: ``[..., B, m]`` (may have fewer leading dims, e.g. the input x), ``b``: ``[..., B, n]``.
    """
    m, n = a.shape[-1], b.shape[-1]
    if a.dim() == 2 and b.dim() > 2 and a.shape[0] == b.shape[-2]:
        # a is the clamped input: contract b over its leading dims first (one matmul).
        if per_chain:
            lead = b.shape[0]
            bb = b.reshape(lead, -1, b.shape[-2], n).sum(1)
            return torch.matmul(a.transpose(0, 1), bb)
        return a.transpose(0, 1) @ b.reshape(-1, b.shape[-2], n).sum(0)
    full = torch.broadcast_shapes(a.shape[:-1], b.shape[:-1])
    a = a.expand(*full, m)
    b = b.expand(*full, n)
    if per_chain:
        lead = full[0]
        return torch.bmm(a.reshape(lead, -1, m).transpose(1, 2), b.reshape(lead, -1, n))
    return a.reshape(-1, m).transpose(0, 1) @ b.reshape(-1, n)


class LayeredEnergy(nn.Module):
    """Base class of the layered pairwise energies (see module docstring)."""

    binary: bool = False
    #: False for energies that are infinite outside an open box (Langevin cannot sample them)
    langevin_ok: bool = True
    #: per-layer unit scales a_l (``[batch, n_l]`` or None) while :meth:`scaled_units` is active
    unit_scales: tuple[Tensor | None, ...] | None = None

    def __init__(self, sizes, *, init_scale: float | None = None) -> None:
        super().__init__()
        self.sizes = _checks.layer_sizes(sizes)
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for n_in, n_out in zip(self.sizes[:-1], self.sizes[1:], strict=True):
            bound = init_scale if init_scale is not None else 1.0 / math.sqrt(n_in)
            self.weights.append(nn.Parameter(torch.empty(n_in, n_out).uniform_(-bound, bound)))
            self.biases.append(nn.Parameter(torch.empty(n_out).uniform_(-bound, bound)))

    # -- layout ---------------------------------------------------------------------------------
    @property
    def layer_sizes(self) -> tuple[int, ...]:
        """Sizes of the free layers (the input is clamped and not part of the state)."""
        return self.sizes[1:]

    @property
    def num_layers(self) -> int:
        return len(self.sizes) - 1

    @property
    def num_free_units(self) -> int:
        return sum(self.layer_sizes)

    @property
    def blocks(self) -> tuple[tuple[int, ...], ...]:
        """Conditionally independent layer blocks: even and odd free-layer indices."""
        even = tuple(range(0, self.num_layers, 2))
        odd = tuple(range(1, self.num_layers, 2))
        return (even, odd) if odd else (even,)

    @property
    def dtype(self) -> torch.dtype:
        return self.weights[0].dtype

    @property
    def device(self) -> torch.device:
        return self.weights[0].device

    # -- the unit-specific pieces (overridden) ----------------------------------------------------
    def rho(self, s: Tensor) -> Tensor:
        raise NotImplementedError

    def rho_prime(self, s: Tensor) -> Tensor:
        raise NotImplementedError

    def rho_and_prime(self, s: Tensor) -> tuple[Tensor, Tensor]:
        """(ρ(s), ρ'(s)); activations override it to share work."""
        return self.rho(s), self.rho_prime(s)

    # -- unit scales (dropout) --------------------------------------------------------------------
    @contextlib.contextmanager
    def scaled_units(self, scales):
        """Within this block layer l interacts through a_l ⊙ ρ(s_l) instead of ρ(s_l).

        ``scales``: one ``[batch, n_l]`` tensor or None per free layer. With a_l = m_l / (1 − p)
        for a Bernoulli(1 − p) mask m_l this is dropout inside the energy (see
        :class:`thermoep.energies.UnitDropout`): E keeps its form with ρ_l(s) = a_l ⊙ ρ(s), so
        every relaxation, sampler and estimator sees the thinned network and its exact
        gradients, ∂E/∂W_l = −(a_{l−1} ⊙ ρ(s_{l−1}))ᵀ (a_l ⊙ ρ(s_l)), while dropped units decouple.
        """
        if scales is not None and len(scales) != self.num_layers:
            raise ValueError(f"scales needs one entry per free layer ({self.num_layers}), got "
                             f"{len(scales)}")
        previous = self.unit_scales
        self.unit_scales = None if scales is None else tuple(scales)
        try:
            yield self
        finally:
            self.unit_scales = previous

    def unit_scale(self, i: int) -> Tensor | None:
        """a_i while :meth:`scaled_units` is active, else None."""
        scales = self.unit_scales
        return None if scales is None else scales[i]

    def rho_layer(self, i: int, s: Tensor) -> Tensor:
        """ρ_i(s) = a_i ⊙ ρ(s) (plain ρ without unit scales)."""
        a = self.unit_scale(i)
        return self.rho(s) if a is None else self.rho(s) * a

    def rho_and_prime_layer(self, i: int, s: Tensor) -> tuple[Tensor, Tensor | None]:
        """(ρ_i(s), ρ_i'(s)) of layer i; ρ_i' may be None where ρ' ≡ 1 (see rho_and_prime)."""
        r, p = self.rho_and_prime(s)
        a = self.unit_scale(i)
        if a is None:
            return r, p
        return r * a, (a.expand_as(r) if p is None else p * a)

    def gaussian_mean(self, i: int, mean: Tensor, var: float, times=None) -> Tensor:
        """E[a_i ⊙ ρ(u) · times(u)] per unit for u ~ N(mean, var) (``times``: an elementwise
        function, default 1), by Gauss–Hermite quadrature (:func:`hermite_rule`); used by
        Rao–Blackwellised Langevin sampling. Needs a smooth ρ."""
        if self.binary:
            raise TypeError(f"{type(self).__name__} has binary units: no Gaussian expectation")
        nodes, weights = hermite_rule(var)
        sd = math.sqrt(2.0 * var)
        out = torch.zeros_like(mean)
        for node, weight in zip(nodes, weights, strict=True):
            u = mean + sd * float(node)
            f = self.rho(u) if times is None else self.rho(u) * times(u)
            out = out + (float(weight) / math.sqrt(math.pi)) * f
        a = self.unit_scale(i)
        return out if a is None else out * a

    def conditional_mean(self, i: int, h: Tensor, temperature: float,
                         start: Tensor | None = None) -> Tensor:
        """E[a_i ⊙ ρ(s_i) | neighbours] per unit of a layer without a cost term, where p(s_i |
        rest) ∝ exp(−(c(s_i) − a_i ρ(s_i) h_i)/T) factorises over units (no lateral weights);
        ``h`` is :meth:`layer_field`, ``start`` a state near the mode (the current sample).
        Used by the conditionally Rao–Blackwellised samplers (``conditional=True``)."""
        raise TypeError(f"{type(self).__name__} has no closed-form conditional expectation of "
                        "its units; sample without conditional=True")

    def rho_layers(self, s: State) -> State:
        """(ρ_0(s_0), ρ_1(s_1), ...): the interaction values of every free layer."""
        return tuple(self.rho_layer(i, t) for i, t in enumerate(s))

    def self_energy(self, s: Tensor) -> Tensor:
        raise NotImplementedError

    def self_grad(self, s: Tensor) -> Tensor:
        raise NotImplementedError

    def project(self, i: int, s: Tensor) -> Tensor:
        """Projection onto the set that contains every minimiser (identity by default)."""
        return s

    @property
    def state_bounds(self) -> tuple[float, float] | None:
        """Box that :meth:`project` clips to, or None."""
        return None

    @property
    def output_curvature(self) -> float | None:
        """Smallest curvature of E along the output layer far from the origin (where the
        interaction terms are bounded), or None when no nudge can make E + bℓ unbounded below
        (binary or boxed states). A negative nudge b needs curvature + b·(cost curvature) > 0."""
        return None

    def init_state(self, batch_shape: tuple[int, ...], generator=None) -> State:
        raise NotImplementedError

    # -- checks -----------------------------------------------------------------------------------
    def check_input(self, x: Tensor) -> Tensor:
        return _checks.input_batch(x, self.sizes[0], dtype=self.dtype, device=self.device)

    def check_state(self, s: State, batch: int | None = None) -> State:
        if not isinstance(s, (tuple, list)) or len(s) != self.num_layers:
            raise ValueError(
                f"state must be a tuple of {self.num_layers} tensors (one per free layer), "
                f"got {type(s).__name__} of length {len(s) if hasattr(s, '__len__') else '?'}"
            )
        for i, (t, n) in enumerate(zip(s, self.layer_sizes, strict=True)):
            if t.shape[-1] != n or (batch is not None and t.shape[-2] != batch):
                raise ValueError(f"state layer {i} must have shape [..., {batch}, {n}], got "
                                 f"{list(t.shape)}")
        return tuple(s)

    # -- energy and its analytic gradients -------------------------------------------------------
    def input_drive(self, x: Tensor) -> Tensor:
        """ρ(s_0) W_1 + b_1 with ρ(s_0) = x, reused at every step of every phase of a batch.

        Without autograd the result is cached for the same ``x`` and unchanged parameters
        (tensor versions), so the free and nudged phases of one batch share one matmul.
        """
        w, b = self.weights[0], self.biases[0]
        if torch.is_grad_enabled():
            return x @ w + b
        # The cache holds x itself, so no other tensor can take its identity while cached;
        # in-place changes to x, W or b bump their version counters and invalidate it.
        key = (x._version, w._version, b._version, w.data_ptr(), b.data_ptr())
        cached = getattr(self, "_drive_cache", None)
        if cached is not None and cached[0] is x and cached[1] == key:
            return cached[2]
        drive = torch.addmm(b, x, w) if x.dim() == 2 else x @ w + b
        self._drive_cache = (x, key, drive)
        return drive

    def hot_parameters(self) -> tuple[list[Tensor], list[Tensor], list[Tensor]]:
        """(W_l, W_lᵀ, b_l) as plain lists, fetched once per relaxation (not per step)."""
        ws = list(self.weights)
        return ws, [w.transpose(0, 1) for w in ws], list(self.biases)

    def bottom_up(self, x: Tensor, rho_s: State, i: int, drive: Tensor | None) -> Tensor:
        if i == 0:
            return self.input_drive(x) if drive is None else drive
        return rho_s[i - 1] @ self.weights[i] + self.biases[i]

    def layer_field(self, x: Tensor, s: State, i: int, drive: Tensor | None = None,
                    rho_s: State | None = None) -> Tensor:
        """h_i: the total input to layer i from its neighbours and its bias."""
        rho_s = self.rho_layers(s) if rho_s is None else rho_s
        h = self.bottom_up(x, rho_s, i, drive)
        if i + 1 < self.num_layers:
            h = h + rho_s[i + 1] @ self.weights[i + 1].transpose(0, 1)
        return h

    def energy(self, x: Tensor, s: State, drive: Tensor | None = None,
               rho_s: State | None = None) -> Tensor:
        """E(s; x), shape ``[..., batch]`` (``rho_s``: ρ(s) if already computed)."""
        rho_s = self.rho_layers(s) if rho_s is None else rho_s
        e = 0.0
        for i, t in enumerate(s):
            e = e + self.self_energy(t) - (self.bottom_up(x, rho_s, i, drive) * rho_s[i]).sum(-1)
        return e

    def fast_field(self, rho_s, i: int, drive: Tensor, hot=None) -> Tensor:
        """h_i from cached ρ(s) with fused multiply-adds (the relaxation's hot path);
        ``hot`` is :meth:`hot_parameters`."""
        ws, wts, bs = self.hot_parameters() if hot is None else hot
        if i == 0:
            h = drive
        else:
            a = rho_s[i - 1]
            h = torch.addmm(bs[i], a, ws[i]) if a.dim() == 2 else a @ ws[i] + bs[i]
        if i + 1 < len(ws):
            a = rho_s[i + 1]
            h = torch.addmm(h, a, wts[i + 1]) if a.dim() == 2 and h.dim() == 2 \
                else h + a @ wts[i + 1]
        return h

    def descent_step(self, i: int, s: Tensor, rho_prime: Tensor, h: Tensor, eta: float,
                     extra: Tensor | None) -> Tensor:
        """Π(s − η(∂E/∂s_i + extra)) given the field h_i (generic form)."""
        g = self.self_grad(s) - rho_prime * h
        if extra is not None:
            g = g + extra
        return self.project(i, s - eta * g)

    def layer_grad(self, x: Tensor, s: State, i: int, drive: Tensor | None = None,
                   rho_s: State | None = None, prime: Tensor | None = None) -> Tensor:
        """∂E/∂s_i = c'(s_i) − ρ'(s_i) ⊙ h_i (analytic)."""
        h = self.layer_field(x, s, i, drive, rho_s)
        if prime is None:
            prime = self.rho_prime(s[i])
            a = self.unit_scale(i)
            prime = prime if a is None else prime * a
        return self.self_grad(s[i]) - prime * h

    def rho_all(self, s: State) -> tuple[State, State]:
        """(ρ(s), ρ'(s)) for every layer, sharing work (one tanh per unit for tanh)."""
        both = [self.rho_and_prime_layer(i, t) for i, t in enumerate(s)]
        return (tuple(r for r, _ in both),
                tuple(self.rho_prime(t) if p is None else p for t, (_, p) in zip(s, both,
                                                                                  strict=True)))

    def state_grad(self, x: Tensor, s: State, drive: Tensor | None = None,
                   rho: tuple[State, State] | None = None) -> State:
        """∂E/∂s for every layer (analytic; equals autograd, see tests/test_energies.py).
        ``rho``: :meth:`rho_all` of ``s`` if already computed."""
        rho_s, primes = self.rho_all(s) if rho is None else rho
        return tuple(self.layer_grad(x, s, i, drive, rho_s, primes[i])
                     for i in range(self.num_layers))

    def param_grad(self, x: Tensor, s: State, weight: Tensor | None = None,
                   per_chain: bool = False, skip_input: bool = False,
                   rho_s: State | None = None, posts: State | None = None,
                   ) -> dict[str, Tensor]:
        """Σ_positions weight · ∂θE(s), keyed like ``named_parameters()``.

        ``weight`` broadcasts against the states' leading shape ``[..., batch]`` (default 1).
        With ``per_chain`` the first leading dimension (chains) is kept: ``[C, *param.shape]``.
        ``skip_input`` leaves out ``weights.0`` (−xᵀρ(s_1) is linear in ρ(s_1) with x clamped,
        so a sampler can average ρ(s_1) over its steps and apply :meth:`input_weight_grad`
        once; this is the expensive n_0 × n_1 product). ``rho_s``: ρ(s) if already computed.
        ``posts``: the weighted post-synaptic factors weight·ρ(s_l) per layer, if computed by
        the caller (they replace ``weight``; Rao–Blackwellised covariances).
        """
        rho_s = self.rho_layers(s) if rho_s is None else rho_s
        w_grads: dict[str, Tensor] = {}
        b_grads: dict[str, Tensor] = {}
        for i in range(self.num_layers):
            if posts is not None:
                post = posts[i]
            else:
                post = rho_s[i] if weight is None else rho_s[i] * weight.unsqueeze(-1)
            if i == 0 and skip_input:
                b_grads["biases.0"] = self._bias_grad(post, per_chain)
                continue
            pre = x if i == 0 else rho_s[i - 1]
            w_grads[f"weights.{i}"] = -_weighted_outer(pre, post, per_chain)
            b_grads[f"biases.{i}"] = self._bias_grad(post, per_chain)
        return {**w_grads, **b_grads}  # the order of named_parameters()

    @staticmethod
    def _bias_grad(post: Tensor, per_chain: bool) -> Tensor:
        if per_chain:
            return -post.reshape(post.shape[0], -1, post.shape[-1]).sum(1)
        return -post.reshape(-1, post.shape[-1]).sum(0)

    def input_weight_grad(self, x: Tensor, post_sum: Tensor, per_chain: bool = False) -> Tensor:
        """∂E/∂W_1 summed over positions, given Σ weight·ρ(s_1) of shape ``[..., batch, n_1]``
        (the complement of ``param_grad(..., skip_input=True)``)."""
        return -_weighted_outer(x, post_sum, per_chain)

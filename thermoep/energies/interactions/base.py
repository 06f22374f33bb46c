"""The interaction protocol: one term E_k of the energy over one or two layers.

An interaction sees the layers it couples through their interaction values ρ (the clamped input
enters as itself); shapes are ``[..., B, *layer.shape]`` with any leading (chain) dimensions.
It provides

    energy(*rho)                         E_k, shape [..., B]
    field(i, *rho)                       −∂E_k/∂ρ_i: what it sends to layer i
    param_grad(*rho, weight, per_chain)  Σ_positions weight · ∂E_k/∂θ, keyed like
                                         ``named_parameters()`` of the interaction

Only :meth:`energy` is required: :meth:`field` and :meth:`param_grad` default to automatic
differentiation (``torch.func.grad`` for the field, so the term also works under the
``torch.func`` transforms of the diagnostics; ``torch.autograd.grad`` for the parameters, one
backward pass per chain when ``per_chain``). A term defined by its energy alone therefore runs
through every sampler and estimator — about 2–5× slower per call than the analytic fields of the
built-in terms, which also say what the samplers may exploit (:meth:`linear_in`,
:meth:`conditionally_linear`, :meth:`couplings`, :meth:`colouring`).

Parametrised weights (``torch.nn.utils.parametrize``, e.g. spectral normalisation) are
supported: analytic gradients are taken with respect to the effective tensor and pulled back
to the stored original by one backward pass through the parametrisation (:meth:`pull_back`).
"""

from __future__ import annotations

import functools
import inspect

import torch
from torch import Tensor, nn
from torch.nn.utils import parametrize

from ..layers import Layer


def broadcast_shape(*shapes) -> tuple[int, ...]:
    """NumPy broadcasting of shapes (``torch.broadcast_shapes`` without its symbolic-shape
    machinery, which costs a sympy import and microseconds per call in hot loops)."""
    n = max(len(s) for s in shapes)
    out = []
    for dims in zip(*((1,) * (n - len(s)) + tuple(s) for s in shapes), strict=True):
        big = max(dims)
        if any(d not in (1, big) for d in dims):
            raise ValueError(f"shapes {shapes} do not broadcast")
        out.append(big if all(d != 0 for d in dims) else 0)
    return tuple(out)


@functools.cache
def fuses_base(kind) -> bool:
    """Whether an interaction class's ``field`` takes ``base=`` (the built-in terms do: they add
    the field to it in one kernel, e.g. ``addmm``)."""
    return "base" in inspect.signature(kind.field).parameters


def unit_dims(t: Tensor, ndim: int) -> tuple[int, ...]:
    """The trailing ``ndim`` dimensions of ``t`` (its units)."""
    return tuple(range(t.dim() - ndim, t.dim()))


class Interaction(nn.Module):
    """Base class of the terms of an energy (module docstring)."""

    def __init__(self, *layers: Layer) -> None:
        super().__init__()
        if not 1 <= len(layers) <= 2 or not all(isinstance(layer, Layer) for layer in layers):
            raise TypeError(f"{type(self).__name__} takes one or two Layer objects, got "
                            f"{layers!r}")
        if len(layers) == 2 and layers[0].name == layers[1].name:
            raise ValueError(f"{type(self).__name__} couples two different layers; for a "
                             "coupling within one layer use Lateral")
        self.layer_names = tuple(layer.name for layer in layers)
        self.layer_shapes = tuple(layer.shape for layer in layers)

    @property
    def default_name(self) -> str:
        """``dense_x_s1``: the class and the layers, used as the term's key in an energy. The
        class is the one before ``torch.nn.utils.parametrize`` (spectral normalisation) swaps in
        its ``Parametrized…`` subclass, so a normalised term keeps its key."""
        kind = parametrize.type_before_parametrizations(self)
        return "_".join((kind.__name__.lower(), *self.layer_names))

    def extra_repr(self) -> str:
        return ", ".join(self.layer_names)

    # -- the mathematics ---------------------------------------------------------------------------
    def energy(self, *rho: Tensor) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} must define energy(*rho)")

    def field(self, i: int, *rho: Tensor) -> Tensor:
        """−∂E/∂ρ_i (by ``torch.func.grad`` unless a subclass gives it analytically)."""
        def total(r):
            args = list(rho)
            args[i] = r
            return self.energy(*args).sum()

        return -torch.func.grad(total)(rho[i])

    def param_grad(self, *rho: Tensor, weight: Tensor | None = None,
                   per_chain: bool = False) -> dict[str, Tensor]:
        """Σ over positions of ``weight`` · ∂E/∂θ (``weight`` broadcasts against ``[..., B]``,
        default 1); with ``per_chain`` the first leading dimension is kept."""
        params = dict(self.named_parameters())
        if not params:
            return {}
        rho = tuple(r.detach() for r in rho)
        with torch.enable_grad():
            e = self.energy(*rho)
            if weight is not None:
                e = e * weight
            if not per_chain:
                grads = torch.autograd.grad(e.sum(), list(params.values()), allow_unused=True)
                return {k: torch.zeros_like(p) if g is None else g
                        for (k, p), g in zip(params.items(), grads, strict=True)}
            rows = []
            for c in range(e.shape[0]):
                grads = torch.autograd.grad(e[c].sum(), list(params.values()), allow_unused=True,
                                            retain_graph=c + 1 < e.shape[0])
                rows.append([torch.zeros_like(p) if g is None else g
                             for p, g in zip(params.values(), grads, strict=True)])
        return {k: torch.stack([r[j] for r in rows]) for j, k in enumerate(params)}

    def linear_operator(self, i: int):
        """(W, j) when the field on layer i is ρ_j W (flattened ρ of the term's layer j, one
        matrix), else None: lets a relaxation fetch W once per phase and fuse the field's
        addition into one matmul."""
        return None

    def linear_in(self, i: int) -> bool:
        """E is linear in ρ_i with the other layers fixed (its field on i does not depend on
        ρ_i, and its parameter gradient is linear in ρ_i)."""
        return False

    def conditionally_linear(self, i: int) -> bool:
        """E is linear in each unit of layer i given every other unit (of layer i too): what
        block Gibbs needs to draw the units of a block from their fields."""
        return self.linear_in(i)

    def couplings(self, i: int) -> Tensor | None:
        """Boolean ``[n, n]`` graph of the units of layer i that this term couples with each
        other (None: none). Units coupled here cannot share a Gibbs block."""
        return None

    def colouring(self, i: int) -> Tensor | None:
        """A proper colouring ``[n]`` (long, colours 0, 1, …) of :meth:`couplings` of layer i,
        when the term knows one without building that graph (the checkerboard of a
        ``NearestNeighbour`` grid); None: the energy colours :meth:`couplings` itself."""
        return None

    def far_curvature(self, i: int) -> float:
        """A lower bound on the curvature this term adds to E along layer i far from the
        origin (0 for terms that grow at most linearly)."""
        return 0.0

    # -- parametrised weights ----------------------------------------------------------------------
    def pull_back(self, grads: dict[str, Tensor], per_chain: bool = False) -> dict[str, Tensor]:
        """Gradients with respect to effective tensors (``self.weight``) → with respect to the
        module's parameters: unchanged where the attribute is a plain parameter; through the
        parametrisation (evaluated in eval mode, so spectral normalisation's power iteration
        does not advance) where it is parametrised."""
        out: dict[str, Tensor] = {}
        for attr, g in grads.items():
            if not parametrize.is_parametrized(self, attr):
                out[attr] = g
                continue
            plist = self.parametrizations[attr]
            was_training = plist.training
            plist.eval()
            try:
                with torch.enable_grad():
                    originals = [p for _, p in plist.named_parameters(recurse=False)]
                    value = plist()
                    grads_o = torch.autograd.grad(value, originals, g, is_grads_batched=per_chain)
            finally:
                plist.train(was_training)
            names = [n for n, _ in plist.named_parameters(recurse=False)]
            for n, go in zip(names, grads_o, strict=True):
                out[f"parametrizations.{attr}.{n}"] = go
        names = [n for n, _ in self.named_parameters()]
        return {n: out[n] for n in names if n in out}


__all__ = ["Interaction", "broadcast_shape", "unit_dims"]

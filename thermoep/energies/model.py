"""An energy is layers plus interactions.

    E(s; x) = Σ_layers Σ_units c(s_i) + Σ_k E_k(ρ(s)),

with the clamped input x entering the terms as itself (ρ(x) := x). A state ``s`` is a tuple with
one tensor per free layer, in the order the layers were given, each of shape
``[..., B, *layer.shape]``; leading dimensions (chains, enumerated configurations) broadcast
against the input ``[B, *input.shape]``. Energies return ``[..., B]``.

The energy exposes mathematics only (no sampling, no caching policy, no cost):

    energy(x, s)                        E, ``[..., B]``
    field(x, s, i)                      h_i = −Σ_k ∂E_k/∂ρ_i, what layer i receives
    state_grad(x, s)                    ∂E/∂s_i = c'(s_i) − ρ'(s_i) ⊙ h_i
    param_grad(x, s, weight)            Σ_positions weight · ∂θE, keyed like named_parameters()
    conditional(x, s, i, T)             the law of each unit of layer i given the rest
    blocks / layer_blocks               computed colourings: nothing inside a block interacts

Dropout inside the energy (:meth:`scaled_units`): layer i interacts through a_i ⊙ ρ(s_i).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn.utils.parametrize import type_before_parametrizations

from .colouring import colour, colour_mask
from .interactions.base import Interaction, fuses_base
from .layers import Layer

State = tuple[Tensor, ...]


@dataclass(frozen=True)
class BlockPart:
    """Free layer ``layer`` (its state index), restricted to the units where ``mask`` (bool over
    the flattened units) is True; ``mask`` None means the whole layer."""

    layer: int
    mask: Tensor | None = None

    def __eq__(self, other) -> bool:
        if not isinstance(other, BlockPart) or other.layer != self.layer:
            return False
        if self.mask is None or other.mask is None:
            return self.mask is None and other.mask is None
        return bool(torch.equal(self.mask, other.mask))

    def __hash__(self) -> int:
        return hash(self.layer)


class Energy(nn.Module):
    """``Energy(layers, interactions, output=None)`` (module docstring).

    ``interactions``: a list (each term keyed by its ``default_name``, e.g. ``dense_x_s1``) or a
    mapping key → term; the keys name the parameters (``dense_x_s1.weight``). ``output``: the
    free layer the cost reads (default: the last free layer).
    """

    def __init__(self, layers: Sequence[Layer], interactions, *, output: str | None = None
                 ) -> None:
        super().__init__()
        layers = tuple(layers)
        if not all(isinstance(layer, Layer) for layer in layers):
            raise TypeError("layers must be thermoep Layer objects (te.Layer, te.Input)")
        names = [layer.name for layer in layers]
        if len(set(names)) != len(names):
            raise ValueError(f"layer names must be unique, got {names}")
        clamped = [layer for layer in layers if layer.clamped]
        if len(clamped) > 1:
            raise ValueError(f"an energy has at most one clamped input layer, got "
                             f"{[layer.name for layer in clamped]}")
        self.all_layers = layers
        self.input = clamped[0] if clamped else None
        self.free_layers = tuple(layer for layer in layers if not layer.clamped)
        if not self.free_layers:
            raise ValueError("an energy needs at least one free (not clamped) layer")
        self._index = {layer.name: i for i, layer in enumerate(layers)}
        self._free_of = {i: k for k, i in enumerate(
            i for i, layer in enumerate(layers) if not layer.clamped)}
        self._layer_of_free = {k: i for i, k in self._free_of.items()}
        self._add_terms(interactions)
        if output is None:
            self.output = len(self.free_layers) - 1
        elif output in self._index and not self.all_layers[self._index[output]].clamped:
            self.output = self._free_of[self._index[output]]
        else:
            raise ValueError(f"output must name a free layer, one of "
                             f"{[layer.name for layer in self.free_layers]}; got {output!r}")
        self.register_buffer("_probe", torch.zeros(0), persistent=False)
        self.unit_scales: tuple[Tensor | None, ...] | None = None
        self._blocks = None
        self._layer_blocks = None

    def _add_terms(self, interactions) -> None:
        if isinstance(interactions, Mapping):
            items = list(interactions.items())
        else:
            items, seen = [], set()
            for term in interactions:
                key = getattr(term, "default_name", None)
                base, n = key, 2
                while key in seen:
                    key, n = f"{base}_{n}", n + 1
                seen.add(key)
                items.append((key, term))
        terms = []
        for key, term in items:
            if not isinstance(term, Interaction):
                raise TypeError(f"interaction {key!r} must be a thermoep Interaction (an "
                                f"nn.Module subclass of te.Interaction), got "
                                f"{type(term).__name__}")
            if not isinstance(key, str) or not key.isidentifier() or hasattr(type(self), key):
                raise ValueError(f"interaction key {key!r} must be a Python identifier that is "
                                 "not an attribute of Energy")
            idx = []
            for name, shape in zip(term.layer_names, term.layer_shapes, strict=True):
                if name not in self._index:
                    raise ValueError(f"interaction {key!r} couples layer {name!r}, which is not "
                                     f"one of the energy's layers {list(self._index)}")
                layer = self.all_layers[self._index[name]]
                if tuple(layer.shape) != tuple(shape):
                    raise ValueError(f"interaction {key!r} was built for layer {name!r} of shape "
                                     f"{shape}, but the energy's {name!r} has shape "
                                     f"{layer.shape}")
                idx.append(self._index[name])
            free = tuple(p for p, j in enumerate(idx) if j in self._free_of)
            if not free:
                raise ValueError(f"interaction {key!r} touches only clamped layers: it would be "
                                 "a constant")
            self.add_module(key, term)
            terms.append((key, term, tuple(idx), free))
        self._terms = tuple(terms)
        self._conditional_ok: set[int] = set()
        self.term_names = tuple(t[0] for t in terms)
        # per free layer: the terms whose field on it depends on the state, and the constant ones
        self._varying: list[list] = [[] for _ in self.free_layers]
        self._constant: list[list] = [[] for _ in self.free_layers]
        for _key, term, idx, free in terms:
            for p in free:
                k = self._free_of[idx[p]]
                others_clamped = all(q == p or idx[q] not in self._free_of
                                     for q in range(len(idx)))
                entry = (term, p, idx)
                (self._constant if others_clamped and term.linear_in(p)
                 else self._varying)[k].append(entry)

    def extra_repr(self) -> str:
        layers = ", ".join(repr(layer) for layer in self.all_layers)
        return f"layers=[{layers}], output={self.free_layers[self.output].name!r}"

    # -- layout ------------------------------------------------------------------------------------
    @property
    def layer_shapes(self) -> tuple[tuple[int, ...], ...]:
        return tuple(layer.shape for layer in self.free_layers)

    @property
    def layer_sizes(self) -> tuple[int, ...]:
        """Units per free layer (the input is clamped and not part of the state)."""
        return tuple(layer.size for layer in self.free_layers)

    @property
    def num_layers(self) -> int:
        return len(self.free_layers)

    @property
    def num_free_units(self) -> int:
        return sum(self.layer_sizes)

    @property
    def input_size(self) -> int:
        return 0 if self.input is None else self.input.size

    @property
    def units(self):
        return tuple(layer.unit for layer in self.free_layers)

    @property
    def discrete(self) -> bool:
        """Every free unit takes finitely many values (binary or spin)."""
        return all(u.discrete for u in self.units)

    @property
    def dtype(self) -> torch.dtype:
        return self._probe.dtype

    @property
    def device(self) -> torch.device:
        return self._probe.device

    def terms(self) -> Iterator[tuple[str, Interaction, tuple[str, ...]]]:
        """(key, interaction, layer names) for every term."""
        for key, term, _, _ in self._terms:
            yield key, term, term.layer_names

    def free_index(self, name: str) -> int:
        """State index of the free layer ``name``."""
        j = self._index.get(name)
        if j is None or j not in self._free_of:
            raise ValueError(f"{name!r} is not a free layer of this energy "
                             f"({[layer.name for layer in self.free_layers]})")
        return self._free_of[j]

    # -- checks ------------------------------------------------------------------------------------
    def check_input(self, x: Tensor) -> Tensor:
        """``x`` as ``[B, *input.shape]`` in the energy's dtype and device (a flat ``[B, n]``
        is reshaped). Without an input layer, x only carries the batch: ``[B]`` or ``[B, 0]``."""
        if not isinstance(x, Tensor):
            raise TypeError(f"x must be a torch.Tensor of shape [batch, {self.input_size}], got "
                            f"{type(x).__name__}")
        if self.input is None:
            if x.dim() == 0 or (x.dim() > 1 and x[0].numel() != 0):
                raise ValueError(f"this energy has no input layer: pass x of shape [batch] or "
                                 f"[batch, 0] (it only carries the batch), got {list(x.shape)}")
            return torch.zeros(x.shape[0], 0, dtype=self.dtype, device=self.device)
        shape = self.input.shape
        if x.dim() == 2 and x.shape[1] == self.input.size:
            x = x.reshape(x.shape[0], *shape)
        elif not (x.dim() == 1 + len(shape) and tuple(x.shape[1:]) == tuple(shape)):
            want = f"[batch, {self.input.size}]" if len(shape) == 1 else \
                f"[batch, {', '.join(map(str, shape))}] or [batch, {self.input.size}]"
            raise ValueError(f"x must have shape {want}, got {list(x.shape)}")
        if not torch.isfinite(x).all():
            raise ValueError("x contains non-finite values (NaN or inf)")
        return x.to(dtype=self.dtype, device=self.device)

    def check_state(self, s: State, batch: int | None = None) -> State:
        if not isinstance(s, (tuple, list)) or len(s) != self.num_layers:
            raise ValueError(
                f"state must be a tuple of {self.num_layers} tensors (one per free layer), "
                f"got {type(s).__name__} of length {len(s) if hasattr(s, '__len__') else '?'}")
        for i, (t, layer) in enumerate(zip(s, self.free_layers, strict=True)):
            nd = layer.ndim
            if tuple(t.shape[t.dim() - nd:]) != tuple(layer.shape) or t.dim() < nd + 1 or (
                    batch is not None and t.shape[t.dim() - nd - 1] != batch):
                want = ", ".join(map(str, layer.shape))
                raise ValueError(f"state layer {i} ({layer.name}) must have shape "
                                 f"[..., {batch}, {want}], got {list(t.shape)}")
        return tuple(s)

    def init_state(self, batch_shape: tuple[int, ...], generator=None) -> State:
        """Each unit kind's initial state (zeros; σ(0) for prototypical units; random bits)."""
        return tuple(layer.unit.initial((*batch_shape, *layer.shape), dtype=self.dtype,
                                        device=self.device, generator=generator)
                     for layer in self.free_layers)

    def flatten_state(self, s: State) -> Tensor:
        """``[..., B, N]``: every free unit of the state in one vector per position."""
        return torch.cat([t.flatten(t.dim() - layer.ndim) if layer.ndim > 1 else t
                          for t, layer in zip(s, self.free_layers, strict=True)], -1)

    def unflatten_state(self, flat: Tensor) -> State:
        parts = torch.split(flat, list(self.layer_sizes), -1)
        return tuple(p.reshape(*p.shape[:-1], *layer.shape)
                     for p, layer in zip(parts, self.free_layers, strict=True))

    # -- unit scales (dropout) ---------------------------------------------------------------------
    @contextlib.contextmanager
    def scaled_units(self, scales):
        """Within this block layer i interacts through a_i ⊙ ρ(s_i) instead of ρ(s_i).

        ``scales``: one ``[batch, *shape]`` tensor or None per free layer. With
        a_i = m_i / (1 − p) for a Bernoulli(1 − p) mask m_i this is dropout inside the energy
        (:class:`thermoep.energies.UnitDropout`): E keeps its form with ρ_i(s) = a_i ⊙ ρ(s), so
        every relaxation, sampler and estimator sees the thinned network and its exact
        gradients, while dropped units decouple.
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
        scales = self.unit_scales
        return None if scales is None else scales[i]

    # -- ρ -----------------------------------------------------------------------------------------
    def rho(self, i: int, s: Tensor) -> Tensor:
        """ρ_i(s) = a_i ⊙ ρ(s) of free layer i."""
        r = self.free_layers[i].unit.rho(s)
        a = self.unit_scale(i)
        return r if a is None else r * a

    def rho_and_prime(self, i: int, s: Tensor) -> tuple[Tensor, Tensor | None]:
        """(ρ_i(s), ρ_i'(s)); ρ_i' is None where it is identically 1."""
        r, p = self.free_layers[i].unit.rho_and_prime(s)
        a = self.unit_scale(i)
        if a is None:
            return r, p
        return r * a, (a.expand_as(r) if p is None else p * a)

    def rhos(self, x: Tensor, s: State) -> list[Tensor]:
        """ρ of every layer in the order given (the input as itself)."""
        out = []
        for j in range(len(self.all_layers)):
            k = self._free_of.get(j)
            out.append(x if k is None else self.rho(k, s[k]))
        return out

    def with_free(self, x: Tensor, free_rho: Sequence[Tensor]) -> list[Tensor]:
        """The all-layer list for given free-layer ρ values."""
        return [x if j not in self._free_of else free_rho[self._free_of[j]]
                for j in range(len(self.all_layers))]

    # -- energy and its gradients ------------------------------------------------------------------
    def self_energy(self, s: State) -> Tensor:
        """Σ_units c(s_i), ``[..., B]``."""
        total = 0.0
        for t, layer in zip(s, self.free_layers, strict=True):
            total = total + layer.unit.self_energy(t).flatten(t.dim() - layer.ndim).sum(-1)
        return total

    def energy(self, x: Tensor, s: State, rho: Sequence[Tensor] | None = None) -> Tensor:
        """E(s; x), ``[..., B]`` (``rho``: :meth:`rhos` of (x, s) if computed already)."""
        rho = self.rhos(x, s) if rho is None else rho
        e = self.self_energy(s)
        for _, term, idx, _ in self._terms:
            e = e + term.energy(*(rho[j] for j in idx))
        return e

    def constant_fields(self, x: Tensor) -> tuple[Tensor | None, ...]:
        """Per free layer, the part of its field that depends on the input alone (the terms
        linear in it whose other layers are clamped: the input drive x W_1 + b_1 of a layered
        network), or None."""
        out = []
        for k in range(self.num_layers):
            h = None
            for term, p, idx in self._constant[k]:
                args = [x] * len(idx)  # the other layers are the clamped input
                args[p] = x.new_zeros(())  # unused: the field does not depend on ρ_k
                f = term.field(p, *args)
                h = f if h is None else h + f
            out.append(h)
        return tuple(out)

    def field(self, x: Tensor, s: State, i: int, rho: Sequence[Tensor] | None = None,
              constant: Sequence[Tensor | None] | None = None) -> Tensor:
        """h_i = −Σ_k ∂E_k/∂ρ_i (``rho``: :meth:`rhos`; ``constant``: :meth:`constant_fields`)."""
        rho = self.rhos(x, s) if rho is None else rho
        h = (self.constant_fields(x) if constant is None else constant)[i]
        for term, p, idx in self._varying[i]:
            args = (rho[j] for j in idx)
            if h is None:
                h = term.field(p, *args)
            elif fuses_base(type(term)):
                h = term.field(p, *args, base=h)  # one kernel (addmm) where the term can
            else:
                h = h + term.field(p, *args)
        if h is None:
            t = s[i]
            return torch.zeros_like(t)
        return h

    def state_grad(self, x: Tensor, s: State, rho: Sequence[Tensor] | None = None,
                   constant=None) -> State:
        """∂E/∂s for every free layer (analytic; equals autograd, tests/test_energies.py)."""
        rho = self.rhos(x, s) if rho is None else rho
        constant = self.constant_fields(x) if constant is None else constant
        out = []
        for i, (t, layer) in enumerate(zip(s, self.free_layers, strict=True)):
            h = self.field(x, s, i, rho, constant)
            _, prime = self.rho_and_prime(i, t)
            g = layer.unit.self_grad(t)
            out.append(g - h if prime is None else g - prime * h)
        return tuple(out)

    def param_grad(self, x: Tensor, s: State, weight: Tensor | None = None,
                   per_chain: bool = False) -> dict[str, Tensor]:
        """Σ_positions weight · ∂θE(s), keyed like ``named_parameters()``. ``weight``
        broadcasts against the state's leading shape ``[..., B]`` (default 1); with
        ``per_chain`` the first leading dimension is kept: ``[C, *param.shape]``."""
        return self.param_grad_rho(self.rhos(x, s), weight, per_chain)

    def param_grad_rho(self, rho: Sequence[Tensor], weight: Tensor | None = None,
                       per_chain: bool = False, *, terms=None,
                       weighted: Mapping[int, Tensor] | None = None) -> dict[str, Tensor]:
        """:meth:`param_grad` from ρ of every layer (:meth:`rhos`; any of them may be replaced
        by an expectation, as the Rao–Blackwellised statistics do). ``terms``: only these keys.
        ``weighted``: free layer → a factor that already carries the weight (w ⊙ ρ_i or an
        expectation of it); terms touching that layer, which must be linear in it, use it in
        place of ρ_i and no further weight."""
        out: dict[str, Tensor] = {}
        over = {} if weighted is None else {self._layer_of_free[k]: v for k, v in
                                            weighted.items()}
        for key, term, idx, _ in self._terms:
            if (terms is not None and key not in terms) or next(term.parameters(), None) is None:
                continue
            args = [rho[j] for j in idx]
            w = weight
            hit = [p for p, j in enumerate(idx) if j in over]
            if hit:
                if len(hit) > 1 or not term.linear_in(hit[0]):
                    raise ValueError(f"term {key!r} is not linear in layer "
                                     f"{term.layer_names[hit[0]]!r}, so its weighted gradient "
                                     "cannot take a pre-weighted factor")
                args[hit[0]] = over[idx[hit[0]]]
                w = None
            for name, g in term.param_grad(*args, weight=w, per_chain=per_chain).items():
                out[f"{key}.{name}"] = g
        return {k: out[k] for k, _ in self.named_parameters() if k in out}

    def single_layer_terms(self) -> dict[str, int]:
        """Terms whose only free layer is i and that are linear in it (key → i): their
        parameter gradient is linear in ρ_i, so a mean over samples needs ρ_i's mean only."""
        out = {}
        for key, term, idx, free in self._terms:
            if len(free) == 1 and term.linear_in(free[0]):
                out[key] = self._free_of[idx[free[0]]]
        return out

    # -- laws --------------------------------------------------------------------------------------
    def check_conditional(self, i: int) -> None:
        """Raise unless each unit of free layer i has a closed-form law given the rest (a pass
        is remembered: the terms are fixed at construction and block Gibbs asks every sweep)."""
        if i in self._conditional_ok:
            return
        layer = self.free_layers[i]
        if not layer.unit.has_law:
            layer.unit.law(None, 1.0)  # raises the unit kind's explanation
        for key, term, idx, _ in self._terms:
            for p, j in enumerate(idx):
                if self._free_of.get(j) == i and not term.conditionally_linear(p):
                    raise TypeError(
                        f"term {key!r} ({type_before_parametrizations(term).__name__}) is not "
                        f"linear in each unit of layer {layer.name!r} given the rest, so that "
                        "layer's units have no law "
                        "given their field: block Gibbs and conditional Rao–Blackwellisation "
                        "cannot handle it (use Langevin, or Relaxation at T = 0)")
        self._conditional_ok.add(i)

    def conditional(self, x: Tensor, s: State, i: int, temperature: float, *, curvature=0.0,
                    linear=0.0, rho=None, constant=None, start=None):
        """The law of every unit of free layer i given the rest of the state, with an optional
        separable quadratic term ½κ'u² − λu per unit (``curvature`` κ', ``linear`` λ): a
        :mod:`thermoep.energies.laws` object of the layer's unit kind. Under unit scales the
        law is that of the unscaled unit with field a_i ⊙ h_i."""
        self.check_conditional(i)
        h = self.field(x, s, i, rho, constant)
        a = self.unit_scale(i)
        g = h if a is None else h * a
        return self.free_layers[i].unit.law(g, temperature, curvature, linear,
                                            start=s[i] if start is None else start)

    def conditional_mean(self, x: Tensor, s: State, i: int, temperature: float, **kw) -> Tensor:
        """E[ρ_i(s_i) | rest] per unit (scaled by a_i under unit scales)."""
        mean = self.conditional(x, s, i, temperature, **kw).mean()
        a = self.unit_scale(i)
        return mean if a is None else mean * a

    @property
    def output_curvature(self) -> float | None:
        """Smallest curvature of E along the output layer far from the origin, or None when no
        nudge can make E + bℓ unbounded below (discrete or boxed output states)."""
        k = self.output
        c = self.free_layers[k].unit.far_curvature
        if c is None:
            return None
        for _, term, idx, _ in self._terms:
            for p, j in enumerate(idx):
                if self._free_of.get(j) == k:
                    c += term.far_curvature(p)
        return c

    # -- blocks ------------------------------------------------------------------------------------
    def _pair_graph(self) -> list[set[int]]:
        """Free layers coupled by a term over two of them."""
        nb: list[set[int]] = [set() for _ in self.free_layers]
        for _, _, idx, free in self._terms:
            ks = {self._free_of[idx[p]] for p in free}
            for a in ks:
                nb[a] |= ks - {a}
        return nb

    @property
    def layer_blocks(self) -> tuple[tuple[int, ...], ...]:
        """A colouring of the layer graph (couplings within a layer ignored): layers of one
        block never interact, so a relaxation may update them together. Even and odd layers
        for a layered network."""
        if self._layer_blocks is None:
            colours = colour(self._pair_graph())
            self._layer_blocks = tuple(
                tuple(k for k in range(self.num_layers) if colours[k] == c)
                for c in range(max(colours) + 1))
        return self._layer_blocks

    @property
    def blocks(self) -> tuple[tuple[BlockPart, ...], ...]:
        """A colouring in which nothing inside a block interacts at all: a layer with couplings
        within it (``Lateral``, ``NearestNeighbour``) is split by the colouring of its coupling
        graph (the checkerboard of a lattice; a term's own :meth:`Interaction.colouring` when
        it is the layer's only coupling). Block Gibbs updates one block at a time."""
        if self._blocks is None:
            parts: list[BlockPart] = []
            of_layer: list[list[int]] = [[] for _ in self.free_layers]
            for k in range(self.num_layers):
                terms = [(term, p) for term, p, _ in self._varying[k] + self._constant[k]]
                own = [(term, p, c) for term, p in terms if (c := term.colouring(p)) is not None]
                masks = [m for term, p in terms if term.colouring(p) is None
                         and (m := term.couplings(p)) is not None]
                colours = None
                if len(own) == 1 and not masks:
                    colours = own[0][2].cpu()  # the term's own colouring: no graph to build
                elif own or masks:
                    masks += [term.couplings(p) for term, p, _ in own]
                    union = masks[0].clone()
                    for m in masks[1:]:
                        union |= m.to(union.device)
                    colours = colour_mask(union)
                if colours is not None:
                    for c in range(int(colours.max()) + 1):
                        of_layer[k].append(len(parts))
                        parts.append(BlockPart(k, (colours == c).to(self.device)))
                else:
                    of_layer[k].append(len(parts))
                    parts.append(BlockPart(k, None))
            nb: list[set[int]] = [set() for _ in parts]
            pairs = self._pair_graph()
            for k in range(self.num_layers):
                group = of_layer[k] + [q for other in pairs[k] for q in of_layer[other]]
                for a in of_layer[k]:
                    nb[a] |= set(group) - {a}
            colours = colour(nb)
            self._blocks = tuple(tuple(parts[q] for q in range(len(parts)) if colours[q] == c)
                                 for c in range(max(colours) + 1))
        return self._blocks


__all__ = ["BlockPart", "Energy", "State"]

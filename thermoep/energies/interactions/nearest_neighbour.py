"""A nearest-neighbour (stencil) coupling within one layer laid out as a grid of H × W sites:

    E = −Σ_⟨ij⟩ J_ij ρ_i ρ_j,

the sum over the bonds of the 4-neighbour grid, each bond once; ``periodic`` wraps both edges (a
torus). A ``(C, H, W)`` grid is C independent lattices. The couplings are

* ``per_bond=False``: one shared J, a scalar (the Ising model, E = −J Σ_⟨ij⟩ σ_i σ_j);
* ``per_bond=True``: one J per bond, a weight ``[2, *grid]``: ``weight[0]`` couples site
  (…, y, x) to its right neighbour (…, y, x + 1), ``weight[1]`` to the one below (…, y + 1, x)
  (a learnable Boltzmann lattice). With open boundaries the bonds that would leave the grid are
  absent: those entries are unused (zero gradient).

``learnable=False`` stores J as a buffer (a fixed lattice: no parameter, no gradient). With
J→ and J↓ the right and down couplings (J on every bond when shared, zero on absent bonds) and
ê_x, ê_y the unit shifts, the analytic pieces are O(N) shifts (``torch.roll``; zeros past an
open edge):

    field   h_i = Σ_j J_ij ρ_j = J→_i ρ_{i+ê_x} + J→_{i−ê_x} ρ_{i−ê_x}
                               + J↓_i ρ_{i+ê_y} + J↓_{i−ê_y} ρ_{i−ê_y},
    ∂E/∂J→_i = −Σ_positions ρ_i ρ_{i+ê_x},   ∂E/∂J↓_i = −Σ_positions ρ_i ρ_{i+ê_y}
    (shared J: the sum of both over every bond).

It is the same energy as ``Lateral(layer, lattice(H, W, periodic=periodic))`` with J on the
mask, whose field is a dense matmul, O(N²) per call (tests/test_nearest_neighbour.py checks
the two against each other). E is quadratic in ρ, but no site is its own neighbour, so it is
linear in each unit given all the others: block Gibbs draws a colour of the grid at once. The
colouring is explicit (:meth:`NearestNeighbour.colouring`): c(y, x) = (a(y) + b(x)) mod k with
a, b proper colourings of the two sides' paths or cycles — the checkerboard (k = 2) when no
periodic side is odd, three colours when one is (an odd cycle is not bipartite). A periodic side
needs at least 3 sites: with 2 the two neighbours along it are the same site, with 1 a site is
its own.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ..layers import Layer
from .base import Interaction
from .dense import weighted


def _side_colours(n: int, periodic: bool) -> Tensor:
    """A proper colouring of the path (or cycle, ``periodic``) of n sites: 0, 1, 0, 1, …, and
    colour 2 for the last site of an odd cycle."""
    c = torch.arange(n, device="cpu") % 2
    if periodic and n % 2 == 1:
        c[-1] = 2
    return c


class NearestNeighbour(Interaction):
    """``NearestNeighbour(layer, grid=None, *, periodic=False, per_bond=False, learnable=True,
    coupling=None, init_scale=None)``: E = −Σ_⟨ij⟩ J_ij ρ_i ρ_j over the 4-neighbour bonds of a
    grid (module docstring).

    ``grid``: ``(H, W)`` or ``(C, H, W)`` with as many units as the layer, the row-major layout
    of its units (default: the layer's own shape, which must then be 2- or 3-dimensional; a flat
    layer of H·W units needs ``grid=(H, W)``). ``coupling``: the initial J of every bond; None
    draws U(−s, s), s = ``init_scale`` or ½ (1/√(neighbours)).
    """

    def __init__(self, layer: Layer, grid=None, *, periodic: bool = False,
                 per_bond: bool = False, learnable: bool = True, coupling: float | None = None,
                 init_scale: float | None = None) -> None:
        super().__init__(layer)
        grid = tuple(layer.shape) if grid is None else tuple(int(n) for n in grid)
        if len(grid) not in (2, 3) or math.prod(grid) != layer.size or min(grid) < 1:
            raise ValueError(
                f"NearestNeighbour needs a grid (H, W) or (C, H, W) of positive sides holding "
                f"the {layer.size} units of layer {layer.name!r}, got "
                f"{grid if len(grid) != 1 else 'its flat shape ' + str(grid)}"
                + (" (pass grid=(H, W) for a flat layer)" if len(layer.shape) == 1 else ""))
        H, W = grid[-2:]
        if periodic and min(H, W) < 3:
            raise ValueError(f"a periodic grid needs sides of at least 3 sites, got {H} × {W} "
                             "(with 2, both neighbours along a side are the same site; with 1, "
                             "a site is its own neighbour)")
        self.nd = layer.ndim
        # a layer shaped as its grid needs no view (at one chain each view is a call)
        self._shaped = tuple(layer.shape) == grid
        self.grid, self.periodic, self.per_bond = grid, bool(periodic), bool(per_bond)
        # one J on a torus: the field's fast path, decided once (a sweep at one chain is a few
        # small kernels, so a per-call check is a measurable share of it)
        self._shared_torus = self.periodic and not self.per_bond
        shape = (2, *grid) if per_bond else ()
        if coupling is None:
            bound = 0.5 if init_scale is None else float(init_scale)
            value = torch.empty(shape).uniform_(-bound, bound)
        else:
            value = torch.full(shape, float(coupling))
        if learnable:
            self.weight = nn.Parameter(value)
        else:
            self.register_buffer("weight", value)
        # which bonds exist ([2, H, W], 1 = present): all on a torus; open edges drop the bonds
        # that would leave the grid. Structure, not state: not in the state dict.
        bonds = torch.ones(2, H, W)
        if not periodic:
            bonds[0, :, W - 1] = 0.0
            bonds[1, H - 1, :] = 0.0
        self.register_buffer("bond_mask", bonds, persistent=False)

    def extra_repr(self) -> str:
        return (f"{self.layer_names[0]}, grid={self.grid}, periodic={self.periodic}, "
                f"per_bond={self.per_bond}")

    # -- pieces ------------------------------------------------------------------------------------
    def _grid(self, r: Tensor) -> Tensor:
        """``[..., *layer.shape]`` → ``[..., *grid]`` (a view)."""
        if self._shaped:
            return r
        return r.reshape(*r.shape[:r.dim() - self.nd], *self.grid)

    def _bond_mask(self) -> Tensor:
        """``[2, 1…, H, W]``: the bond mask shaped to broadcast against ``[2, *grid]``."""
        m = self.bond_mask
        return m.reshape(2, *([1] * (len(self.grid) - 2)), *m.shape[1:])

    def _couplings(self, like: Tensor) -> tuple[Tensor, Tensor] | None:
        """(J→, J↓) broadcastable to ``[..., *grid]``, zero on absent bonds; None for the shared
        J of a torus (the fast path multiplies once)."""
        if self._shared_torus:
            return None
        w = self.weight.to(like.dtype) if like.is_complex() else self.weight
        j = (w if self.per_bond else w.expand(2, *self.grid)) * self._bond_mask()
        return j[0], j[1]

    def _products(self, g: Tensor) -> tuple[Tensor, Tensor]:
        """ρ_i ρ_{i+ê_x} and ρ_i ρ_{i+ê_y} at every site (the wrap-around products included:
        open boundaries mask them through the couplings)."""
        return g * torch.roll(g, -1, -1), g * torch.roll(g, -1, -2)

    # -- the mathematics ---------------------------------------------------------------------------
    def energy(self, r):
        g = self._grid(r)
        px, py = self._products(g)
        dims = tuple(range(g.dim() - len(self.grid), g.dim()))
        j = self._couplings(g)
        if j is None:
            w = self.weight.to(g.dtype) if g.is_complex() else self.weight
            return -w * (px + py).sum(dims)
        return -(j[0] * px + j[1] * py).sum(dims)

    def field(self, i, r, base: Tensor | None = None):
        g = self._grid(r)
        j = self._couplings(g)
        if j is None:
            w = self.weight.to(g.dtype) if g.is_complex() else self.weight
            # in place on the fresh roll: at one chain the field is a few small kernels
            h = torch.roll(g, 1, -1).add_(torch.roll(g, -1, -1)).add_(torch.roll(g, 1, -2)) \
                .add_(torch.roll(g, -1, -2)).mul_(w)
        else:
            jx, jy = j
            h = jx * torch.roll(g, -1, -1) + torch.roll(jx * g, 1, -1) \
                + jy * torch.roll(g, -1, -2) + torch.roll(jy * g, 1, -2)
        if not self._shaped:
            h = h.reshape(r.shape)
        return h if base is None else base + h

    def param_grad(self, r, weight=None, per_chain=False):
        if not isinstance(self.weight, nn.Parameter):
            return {}
        nd = len(self.grid)
        px, py = self._products(self._grid(r))
        px, py = weighted(px, weight, nd), weighted(py, weight, nd)
        dims = tuple(range(1 if per_chain else 0, px.dim() - nd))
        if dims:
            px, py = px.sum(dims), py.sum(dims)
        g = -torch.stack([px, py], px.dim() - nd) * self._bond_mask()   # [(C,) 2, *grid]
        if self.per_bond:
            return {"weight": g}
        return {"weight": g.sum(tuple(range(g.dim() - nd - 1, g.dim())))}

    def conditionally_linear(self, i):
        return True

    # -- structure ---------------------------------------------------------------------------------
    def bonds(self) -> tuple[Tensor, Tensor, Tensor]:
        """(i, j, J): the flattened unit indices of both ends of every bond ``[E]`` (right
        bonds, then down bonds, in row-major order) and its coupling ``[E]`` (detached)."""
        idx = torch.arange(math.prod(self.grid), device="cpu").reshape(self.grid)
        mask = self.bond_mask.cpu().bool()
        w = self.weight.detach().cpu()
        if not self.per_bond:
            w = w.expand(2, *self.grid)
        ends, js = [], []
        for d, dim in ((0, -1), (1, -2)):
            present = mask[d].expand(self.grid)
            ends.append((idx[present], torch.roll(idx, -1, dim)[present]))
            js.append(w[d][present])
        return (torch.cat([e[0] for e in ends]), torch.cat([e[1] for e in ends]),
                torch.cat(js))

    def couplings(self, i):
        """The boolean ``[n, n]`` graph of the bonds (dense: for colouring this term together
        with another coupling of the same layer, and for tests; the energy's blocks use
        :meth:`colouring` when this term is the layer's only coupling)."""
        n = math.prod(self.grid)
        a, b, _ = self.bonds()
        mask = torch.zeros(n, n, dtype=torch.bool, device="cpu")
        mask[a, b] = True
        mask[b, a] = True
        return mask

    def colouring(self, i):
        """A proper colouring of the bonds' graph, ``[n]`` over the flattened units: the
        checkerboard, or three colours when a periodic side is odd (module docstring)."""
        H, W = self.grid[-2:]
        c = (_side_colours(H, self.periodic).reshape(H, 1)
             + _side_colours(W, self.periodic).reshape(1, W))
        k = 3 if self.periodic and (H % 2 or W % 2) else 2
        return (c % k).expand(self.grid).reshape(-1).clone()


__all__ = ["NearestNeighbour"]

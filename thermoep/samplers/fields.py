"""The fields of one phase as a small program that every step of a sampler runs.

The field on free layer k is h_k = c_k + Σ_terms h_term(ρ), c_k the part that depends on the
clamped input alone (:meth:`Target.constant_fields`). A term that is a linear operator of one
layer (``Interaction.linear_operator``: ρ_j W for Dense and Lateral) has its matrix fetched once
for the phase, and each step adds ρ_j W to the field so far in one ``addmm``
(:func:`~thermoep.energies.interactions.dense.matmul_add`); other terms are called with
``base=`` where they take it. At a few chains a sampler's step is bound by the number of kernels
and Python calls, not by arithmetic, so this is where the relaxation and block Gibbs save.

Build it inside the phase (the matrices of parametrised terms, e.g. under spectral
normalisation, are those of the phase's ``parametrize.cached()`` context).
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..energies.interactions.base import fuses_base
from ..energies.interactions.dense import matmul_add

#: outputs of at most this many units get their matrix stored column-major (see Fields._entry)
NARROW = 32


class Fields:
    """``fields(k, rho, like)`` = h_k for ρ of every layer (``like``: a tensor of the layer's
    state shape, for a layer that receives no field at all)."""

    def __init__(self, energy, constant, *, complex_states: bool = False) -> None:
        self.constant = constant
        self.terms = [[self._entry(term, p, idx, complex_states)
                       for term, p, idx in energy._varying[k]]
                      for k in range(energy.num_layers)]

    @staticmethod
    def _entry(term, p, idx, complex_states):
        """(matrix, source layer, term, position, layer indices, takes base=)."""
        op = term.linear_operator(p)
        if op is None:
            return None, None, term, p, idx, fuses_base(type(term))
        w, j = op
        if complex_states:
            w = w.to(torch.complex128 if w.dtype == torch.float64 else torch.complex64)
        k, n = w.shape
        if n <= NARROW and n < k and w.stride(0) != 1:
            # a narrow output (the 10 classes): MKL's sgemm takes ρ W about twice as fast with
            # W stored column-major (512 × 256 by 256 × 10: 118 µs against 265 µs)
            w = w.t().contiguous().t()
        return w, idx[j], term, p, idx, True

    def __call__(self, k: int, rho, like: Tensor) -> Tensor:
        h = self.constant[k]
        for w, j, term, p, idx, fused in self.terms[k]:
            if w is not None:  # ρ_j W, fused with what the field holds so far
                src = rho[j]
                if h is not None:
                    f = matmul_add(h, src, w)
                    h = f if f is not None else h + src @ w
                else:
                    h = src @ w
                continue
            args = [rho[j] for j in idx]
            if fused and h is not None:
                h = term.field(p, *args, base=h)
            else:
                f = term.field(p, *args)
                h = f if h is None else h + f
        return torch.zeros_like(like) if h is None else h


__all__ = ["Fields"]

"""Layered (chain) networks over the energy model: input x = s_0, free layers s_1 … s_L,

    E = Σ_l Σ_units c(s_l) − Σ_l ρ(s_{l−1})ᵀ W_l ρ(s_l) − Σ_l b_lᵀ ρ(s_l),   ρ(s_0) := x,

one :class:`~thermoep.energies.interactions.Dense` and one
:class:`~thermoep.energies.interactions.Bias` per free layer. Layers are named ``x``, ``s1``, …,
``sL``; parameters ``dense_s{l-1}_s{l}.weight`` (``[n_{l−1}, n_l]``) and ``bias_s{l}.bias``
(``dense_x_s1`` for the first). Checkpoints of thermoep 0.1, which named them ``weights.{l-1}``
and ``biases.{l-1}``, load through :attr:`LayeredEnergy.legacy_names`.
"""

from __future__ import annotations

import math

from .. import _checks
from .interactions import Bias, Dense
from .layers import Input, Layer
from .model import Energy


class LayeredEnergy(Energy):
    """A chain ``sizes = [n_0, n_1, …, n_L]`` of ``unit`` layers (module docstring); weights
    and biases U(−s, s), s = ``init_scale`` or 1/√n_{l−1}, drawn in the order W_1, b_1, W_2, …"""

    def __init__(self, sizes, unit, *, init_scale: float | None = None) -> None:
        self.sizes = _checks.layer_sizes(sizes)
        layers = [Input("x", self.sizes[0])]
        layers += [Layer(f"s{l}", n, unit) for l, n in enumerate(self.sizes[1:], 1)]
        dense, biases = [], []
        for a, b, n_in in zip(layers[:-1], layers[1:], self.sizes[:-1], strict=True):
            bound = init_scale if init_scale is not None else 1.0 / math.sqrt(n_in)
            dense.append(Dense(a, b, init_scale=bound))
            biases.append(Bias(b, init_scale=bound))
        # weights first, then biases: the parameter order of thermoep 0.1 (optimizer states)
        super().__init__(layers, dense + biases)
        self._dense_keys = tuple(t.default_name for t in dense)
        self._bias_keys = tuple(t.default_name for t in biases)
        self._register_load_state_dict_pre_hook(self._rename_legacy)

    @property
    def weights(self):
        """(W_1, …, W_L)."""
        return tuple(getattr(self, k).weight for k in self._dense_keys)

    @property
    def biases(self):
        """(b_1, …, b_L)."""
        return tuple(getattr(self, k).bias for k in self._bias_keys)

    @property
    def legacy_names(self) -> dict[str, str]:
        """thermoep 0.1 parameter name → name."""
        out = {f"weights.{i}": f"{k}.weight" for i, k in enumerate(self._dense_keys)}
        out.update({f"biases.{i}": f"{k}.bias" for i, k in enumerate(self._bias_keys)})
        return out

    def _rename_legacy(self, state_dict, prefix, *args) -> None:
        for old, new in self.legacy_names.items():
            if prefix + old in state_dict and prefix + new not in state_dict:
                state_dict[prefix + new] = state_dict.pop(prefix + old)


__all__ = ["LayeredEnergy"]

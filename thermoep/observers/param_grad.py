"""E_b[∂θ(E + bℓ)]: the mean parameter gradient of a phase, per chain.

Per chain c and kept state t the energy's parameter gradient ∂θE(s_{c,t}) is summed over the
batch and the kept states and divided by (samples × batch): each chain gives an independent
estimate of the batch mean of E_b[∂θE], whose spread is the standard error.

Terms whose only free layer is l and that are linear in it (the input's Dense and Bias terms of a
layered network: ∂E/∂W_1 = −xᵀρ(s_1) with x clamped) have a gradient linear in ρ(s_l), so for
them ρ(s_l) is summed over the kept states and the (expensive n_0 × n_1) product is taken once.
The other terms' products (ρ_aᵀρ_b per chain) are taken for many kept states at once: their
ρ are concatenated along the batch axis, which turns K small products into one (at a few
chains the K calls, not the arithmetic, are the cost).
A cost with parameters φ of its own (a read-out) adds b·∂φℓ(s_b) (deterministic phases only).
"""

from __future__ import annotations

import torch

from .base import Lazy, Observer, PerChain
from .smoothing import plain


def _add(total, new):
    if total is None:
        return dict(new)
    for k, v in new.items():
        total[k] = total[k] + v
    return total


class MeanParamGrad(Observer):
    """The phase's E_b[∂θ(E + bℓ)] (batch mean) as a :class:`PerChain` keyed like
    ``named_parameters()`` followed by the cost's own parameters (``smoother``: a
    Rao–Blackwellisation, :mod:`thermoep.observers.smoothing`)."""

    def __init__(self, smoother=None, *, name: str = "param_grad") -> None:
        self.smoother, self.name = smoother, name

    def start(self, target, state, chains):
        super().start(target, state, chains)
        if chains is not None and target.cost.named_trainables():
            raise TypeError(
                f"{target.cost!r} has parameters of its own; the Monte-Carlo samplers do not "
                "estimate their gradient: train it with the deterministic relaxation (T = 0)")
        if self.smoother is not None:
            self.smoother.check(target.energy, target.cost)
        energy = target.energy
        self.linear = energy.single_layer_terms()
        self.others = [k for k in energy.term_names if k not in self.linear]
        # the layers those terms read: only they are concatenated over pending states
        self.others_read = {j for key, _, idx, _ in energy._terms if key in self.others
                            for j in idx}
        self.layer_sums: dict[int, object] = {}
        self.total, self.cost_total, self.n = None, None, 0
        self.pending, self.pending_numbers = [], 0

    def update(self, target, state):
        energy = target.energy
        sm = (self.smoother or plain)(target, state)
        per_chain = self.chains is not None
        if self.others:
            if per_chain:
                self._pend(target, sm.rho)
            else:
                self.total = _add(self.total, energy.param_grad_rho(
                    sm.rho, per_chain=False, terms=self.others))
        for k in set(self.linear.values()):
            r = sm.rho[energy._layer_of_free[k]]
            self.layer_sums[k] = r.clone() if k not in self.layer_sums else \
                self.layer_sums[k] + r
        if target.nudge != 0.0 and target.cost.named_trainables():
            # ∂φ(E + bℓ) = b ∂φℓ at the state (the energy does not depend on φ)
            out = state.position[energy.output]
            g = {k: v * target.nudge for k, v in target.cost.param_grad(out, target.y).items()}
            self.cost_total = _add(self.cost_total, g)
        self.n += 1

    #: kept states whose products are taken in one call (module docstring), at most this many
    #: numbers of ρ held at once
    PENDING_NUMBERS = 2 ** 22

    def _pend(self, target, rho):
        """Keep ρ of a kept state; every so often take Σ ∂θE over all pending states at once."""
        self.pending.append(rho)
        self.pending_numbers += sum(r.numel() for j, r in enumerate(rho)
                                    if j in target.energy._free_of)
        if self.pending_numbers >= self.PENDING_NUMBERS:
            self._flush(target)

    def _flush(self, target):
        """The pending states as one batch of K·B positions: ∂θE is a sum over positions, so
        one product over the concatenated batch is the sum of the K products (a chain's
        states stay in its row: ``[C, K·B, …]``; a clamped input those terms read repeats K
        times)."""
        if not self.pending:
            return
        energy, k = target.energy, len(self.pending)
        free = energy._free_of
        rho = [r if k == 1 or j not in self.others_read else
               torch.cat([p[j] for p in self.pending], 1) if j in free else
               r.repeat(k, *([1] * (r.dim() - 1)))
               for j, r in enumerate(self.pending[0])]
        self.total = _add(self.total, energy.param_grad_rho(rho, per_chain=True,
                                                            terms=self.others))
        self.pending, self.pending_numbers = [], 0

    def finish(self, target):
        energy = target.energy
        per_chain = self.chains is not None
        self._flush(target)
        total = dict(self.total or {})
        scale = 1.0 / (self.n * target.batch)
        own = {k: (self.cost_total[k] * scale if self.cost_total is not None
                   else p.detach().new_zeros(p.shape))
               for k, p in target.cost.named_trainables().items()}
        keys = [k for k, _ in energy.named_parameters()] + list(own)
        linear, rho_linear = {}, None
        if self.linear:
            # scaled before the product, which is linear in them: the sums are n_l wide, the
            # products n_0 × n_l (784 × 256 per chain), one pass over them fewer
            free = [self.layer_sums[k] * scale if k in self.layer_sums else
                    target.x.new_zeros(()) for k in range(energy.num_layers)]
            rho_linear = energy.with_free(target.x, free)
            # summed over chains: one product for the mean, the per-chain ones only if read
            linear = energy.param_grad_rho(rho_linear, per_chain=False, terms=self.linear)
        if not per_chain:
            return PerChain({k: linear[k] if k in linear else
                             own[k] if k in own else total[k] * scale for k in keys}, None)
        C = self.chains
        chains = {k: total[k] * scale for k in total}  # (no own parameters: see start)
        linear_chains: dict = {}

        def replicates(k):
            if k not in linear:
                return chains[k]
            if not linear_chains:  # every linear term's per-chain product, when first read
                linear_chains.update(energy.param_grad_rho(rho_linear, per_chain=True,
                                                           terms=self.linear))
            return linear_chains[k]

        mean = {k: linear[k] / C if k in linear else chains[k].mean(0) for k in keys}
        return PerChain(mean, Lazy(keys, replicates))


__all__ = ["MeanParamGrad"]

"""E_b[∂θ(E + bℓ)]: the mean parameter gradient of a phase, per chain.

Per chain c and kept state t the energy's parameter gradient ∂θE(s_{c,t}) is summed over the
batch and the kept states and divided by (samples × batch): each chain gives an independent
estimate of the batch mean of E_b[∂θE], whose spread is the standard error.

Terms whose only free layer is l and that are linear in it (the input's Dense and Bias terms of a
layered network: ∂E/∂W_1 = −xᵀρ(s_1) with x clamped) have a gradient linear in ρ(s_l), so for
them ρ(s_l) is summed over the kept states and the (expensive n_0 × n_1) product is taken once.
A cost with parameters φ of its own (a read-out) adds b·∂φℓ(s_b) (deterministic phases only).
"""

from __future__ import annotations

from .base import Observer, PerChain
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
        self.layer_sums: dict[int, object] = {}
        self.total, self.cost_total, self.n = None, None, 0

    def update(self, target, state):
        energy = target.energy
        sm = (self.smoother or plain)(target, state)
        per_chain = self.chains is not None
        if self.others:
            self.total = _add(self.total, energy.param_grad_rho(
                sm.rho, per_chain=per_chain, terms=self.others))
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

    def finish(self, target):
        energy = target.energy
        per_chain = self.chains is not None
        total = dict(self.total or {})
        if self.linear:
            free = [self.layer_sums.get(k, target.x.new_zeros(())) for k in
                    range(energy.num_layers)]
            total.update(energy.param_grad_rho(energy.with_free(target.x, free),
                                               per_chain=per_chain, terms=self.linear))
        scale = 1.0 / (self.n * target.batch)
        grads = {k: total[k] * scale for k, _ in energy.named_parameters()}
        for k, p in target.cost.named_trainables().items():
            grads[k] = (self.cost_total[k] * scale if self.cost_total is not None
                        else p.detach().new_zeros(p.shape))
        if not per_chain:
            return PerChain(grads, None)
        return PerChain({k: v.mean(0) for k, v in grads.items()}, grads)


__all__ = ["MeanParamGrad"]

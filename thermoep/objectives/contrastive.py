"""Contrastive learning and coupled learning on the layered energies (seed
ebl-algorithms-comparative-study §2). Deterministic (T = 0, ``Relaxation``) only.

* Contrastive learning (CL): the second phase clamps the output to the target, s_L = y, and
  relaxes the hidden layers: ĝ = G(clamped) − G(free).
* Coupled learning (CpL, Stern et al. 2021): the output is clamped to a point between the free
  output and the target, ŷ_β = s*_L + β (y − s*_L):
  P-CpL  (G(ŷ_β) − G(0)) / β,   N-CpL  (G(0) − G(ŷ_{−β})) / β,
  C-CpL  (G(ŷ_β) − G(ŷ_{−β})) / (2β).
Clamped phases warm-start from the free state.
"""

from __future__ import annotations

from ..gradient import Gradient
from ..samplers.loop import sample
from .base import Estimator

VARIANTS = ("positive", "negative", "centered")


class _Clamped(Estimator):
    def __init__(self, sampler=None, beta: float = 1.0, *, beta_schedule=None) -> None:
        super().__init__(sampler, beta, beta_schedule=beta_schedule)
        if not self.deterministic:
            raise TypeError(f"{type(self).__name__} clamps the output of a deterministic "
                            f"relaxation; got sampler {type(self.sampler).__name__}")

    def clamps(self, out, y) -> list[tuple[object, float]]:
        """[(clamped output or None for the free phase, coefficient)]."""
        raise NotImplementedError

    def check(self, energy, cost) -> None:
        self._check_cost(cost)
        super().check(energy, cost)

    def _check_cost(self, cost) -> None:
        if cost.named_trainables():
            raise TypeError(f"{type(self).__name__} clamps the output layer to the target; "
                            f"{cost!r} reads the last layer through its own parameters, so there "
                            "is no output layer to clamp: use an EP estimator")

    def stencil(self):
        return []

    def __call__(self, energy, cost, x, y, *, generator=None) -> Gradient:
        self._check_cost(cost)
        target = self._target(energy, cost, x, y)
        free = sample(self.sampler, target, observers=self.observers(True))
        total, phases = None, {0.0: free}
        for k, (clamp, c) in enumerate(self.clamps(free.output, target.y)):
            ph = free if clamp is None else sample(
                self.sampler, target.at(0.0, clamp=clamp), observers=self.observers(False),
                init=free.state)
            if clamp is not None:
                phases[float(k + 1)] = ph
            term = {n: c * v for n, v in ph["param_grad"].mean.items()}
            total = term if total is None else {n: total[n] + term[n] for n in total}
        stats = self._phase_stats(phases)
        return self._gradient(total, len(phases) - 1, stats, free, phases)


class ContrastiveLearning(_Clamped):
    """CL: G(output clamped to y) − G(free); one clamped phase (β is not used)."""

    name = "contrastive"

    def clamps(self, out, y):
        return [(y, 1.0), (None, -1.0)]


class CoupledLearning(_Clamped):
    """CpL with ``variant`` positive (P-CpL), negative (N-CpL) or centered (C-CpL)."""

    name = "coupled-learning"

    def __init__(self, sampler=None, beta: float = 0.2, *, variant: str = "positive",
                 beta_schedule=None) -> None:
        super().__init__(sampler, beta, beta_schedule=beta_schedule)
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {list(VARIANTS)}, got {variant!r}")
        self.variant = variant

    def clamps(self, out, y):
        b = abs(self.beta)
        up, down = out + b * (y - out), out - b * (y - out)
        if self.variant == "positive":
            return [(up, 1.0 / b), (None, -1.0 / b)]
        if self.variant == "negative":
            return [(None, 1.0 / b), (down, -1.0 / b)]
        return [(up, 0.5 / b), (down, -0.5 / b)]

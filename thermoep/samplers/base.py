"""What every sampler returns, and the one loop that runs a Markov chain and accumulates moments.

Chains are the leading dimension of every state tensor: a state layer has shape ``[C, B, n]``
(C chains for each of the B inputs), so thousands of independent chains run as one batched tensor
program. Expectations are accumulated as *per-chain* means, so the chains act as independent
replicates: Monte-Carlo standard errors are the spread of the per-chain means, and the scalar
traces ``[C, S]`` feed ESS and split R-hat (``pyro.ops.stats``, chain_dim=0, sample_dim=1).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor

from .. import _checks
from ..costs import Cost
from ..energies.base import LayeredEnergy, State


@dataclass
class Phase:
    """The outcome of one phase (one value of the nudge b).

    Attributes:
        nudge: b.
        state: last state, for warm starts (``[C, B, n]`` per layer; ``[B, n]`` for relaxation).
        grad: batch mean of E_b[∂θ(E + bℓ)] (= E_b[∂θE] for a cost without parameters), keyed
            like ``named_parameters()`` followed by the cost's own parameters, if any.
        grad_chains: the same per chain (``[C, *shape]``), or None for deterministic phases.
        cost: E_b[ℓ] per input, ``[B]``.
        output: E_b[s_L] per input, ``[B, n_L]`` (the prediction read-out).
        cov_chains: per-chain unbiased estimates of the batch mean of Cov_b(∂θE, ℓ), if asked.
        trace: scalar chain traces ``{"energy": [C, S], "cost": [C, S]}`` (batch-averaged).
        info: sampler facts (steps, residual, acceptance, ...).
    """

    nudge: float
    state: State
    grad: dict[str, Tensor]
    cost: Tensor
    output: Tensor
    grad_chains: dict[str, Tensor] | None = None
    cov_chains: dict[str, Tensor] | None = None
    trace: dict[str, Tensor] = field(default_factory=dict)
    info: dict[str, float] = field(default_factory=dict)

    @property
    def chains(self) -> int:
        return 0 if self.grad_chains is None else next(iter(self.grad_chains.values())).shape[0]


class MonteCarloSampler:
    """Shared configuration and loop of the Markov-chain samplers (Langevin, Gibbs)."""

    deterministic = False

    def __init__(self, *, steps: int, burn_in: int, temperature: float, chains: int,
                 thin: int = 1, coupled: bool = False, conditional: bool = False) -> None:
        self.steps = _checks.positive_int("steps", steps)
        self.burn_in = _checks.positive_int("burn_in", burn_in, minimum=0)
        if self.burn_in >= self.steps:
            raise ValueError(
                f"burn_in must be smaller than steps (burn_in={burn_in}, steps={steps}): "
                "no sample would be kept"
            )
        self.temperature = _checks.positive_float("temperature", temperature)
        self.chains = _checks.positive_int("chains", chains)
        self.thin = _checks.positive_int("thin", thin)
        #: Common random numbers: estimators restart every phase from the free phase's initial
        #: state and random stream, so Δs = s_β − s_0 loses the noise both phases share.
        self.coupled = bool(coupled)
        #: Conditional Rao–Blackwellisation: every kept sample's layers of the other parity than
        #: the output are replaced by their exact conditional means given their neighbours.
        self.conditional = bool(conditional)

    @property
    def num_samples(self) -> int:
        return len(range(self.burn_in, self.steps, self.thin))

    def _initial_state(self, energy: LayeredEnergy, batch: int, init: State | None,
                       generator) -> State:
        if init is None:
            return energy.init_state((self.chains, batch), generator)
        init = tuple(init)
        if init[0].dim() == 2:  # a deterministic state [B, n]: copy it to every chain
            init = tuple(t.unsqueeze(0).expand(self.chains, *t.shape) for t in init)
        energy.check_state(init, batch)
        if init[0].shape[0] != self.chains:
            raise ValueError(f"init has {init[0].shape[0]} chains, sampler has {self.chains}")
        return tuple(t.detach().clone() for t in init)

    def _run(self, energy: LayeredEnergy, cost: Cost, x: Tensor, y: Tensor, nudge: float,
             state: State, step: Callable[[State], State], *, covariance: bool,
             info: dict[str, float],
             expected: Callable[[], tuple[State, float]] | None = None,
             conditional_means: Callable[[], dict[int, Tensor]] | None = None) -> Phase:
        """Burn in, then accumulate per-chain moments of every kept sample (``expected()``:
        the Gaussian law (m, σ²) of the step just taken, for Rao–Blackwellised estimates;
        ``conditional_means()``: the conditional means of the averaged layers at the state just
        reached, if the step computed them already)."""
        acc = _Accumulator(energy, cost, x, y, covariance,
                           self.temperature if self.conditional else None)
        with torch.no_grad():
            for t in range(self.steps):
                state = step(state)
                if t >= self.burn_in and (t - self.burn_in) % self.thin == 0:
                    acc.add(state, None if expected is None else expected(),
                            None if conditional_means is None else conditional_means())
        return acc.finish(nudge, state, info)


class _Accumulator:
    """Running per-chain sums of ∂θE, ℓ, s_L and (optionally) the covariance estimator.

    Conditional Rao–Blackwellisation (``temperature`` given). Without lateral weights the units of
    a layer are independent given the neighbouring layers, and p_b(s_i | rest) does not depend on
    b when i is not the output layer L. Let R be the layers whose parity differs from L's. Every
    ∂θE is a product ρ(s_{i−1}) ρ(s_i) with exactly one factor in R, and ℓ depends on s_L only, so

        E_b[∂θE · ℓ] = E_b[ E[∂θE | s_{∖R}] ℓ(s_L) ],  E[ρ(s_{i−1}) ρ(s_i) | s_{∖R}] = one factor
        replaced by its conditional mean E[ρ(s_r) | neighbours] (``conditional_mean``),

    and likewise for E_b[∂θE]: replacing ρ(s_r), r ∈ R, by its conditional mean in every kept
    sample keeps every expectation the estimators form and removes the units' own fluctuations
    from them (the Rao–Blackwell theorem). It needs a sampler whose samples follow p_b, not the
    sampler's own step law, so it applies to Langevin (ULA: up to its O(η) bias), MALA and Gibbs.
    """

    def __init__(self, energy, cost, x, y, covariance, temperature=None):
        if cost.named_trainables():
            raise TypeError(
                f"{cost!r} has parameters of its own; the Monte-Carlo samplers do not estimate "
                "their gradient yet: train it with the deterministic relaxation (T = 0)"
            )
        self.energy, self.cost, self.x, self.y = energy, cost, x, y
        self.drive = energy.input_drive(x)
        self.covariance = covariance
        self.temperature = temperature
        L = energy.num_layers - 1
        self.averaged = [i for i in range(L) if (L - i) % 2 == 1] if temperature else []
        self.n = 0
        self.grad: dict[str, Tensor] | None = None
        self.cov: dict[str, Tensor] | None = None
        self.kept: list[tuple[State, Tensor, Tensor]] = []  # (ρ(s), ℓ, E[ρ_L ℓ]) per sample
        self.cost_sum = 0.0
        self.out_sum = 0.0
        self.trace_e: list[Tensor] = []
        self.trace_l: list[Tensor] = []

    @staticmethod
    def _add(total, new):
        if total is None:
            return dict(new)
        for k, v in new.items():
            total[k] += v
        return total

    def add(self, s: State, expected: tuple[State, float] | None = None,
            means: dict[int, Tensor] | None = None) -> None:
        """Add the sample ``s``; with ``expected = (m, σ²)`` (Rao–Blackwellised ULA, see
        ``langevin.py``) add the conditional expectations over the next state s' ~ N(m, σ²I)
        instead (squared-error cost), keeping ``s`` for the energy trace only."""
        # ∂E/∂W_1 = −xᵀρ(s_1) is linear in ρ(s_1) (x is clamped): sum ρ(s_1) here and take the
        # n_0 × n_1 product once in finish(), instead of once per step.
        energy = self.energy
        if expected is None:
            ell = self.cost.value(s[-1], self.y)  # [C, B]
            rho_s = energy.rho_layers(s)
            e = energy.energy(self.x, s, self.drive, rho_s=rho_s)
            out = s[-1]
            if self.averaged:  # R's neighbours are not in R: their fields use the sample's ρ
                means = dict(means or {})
                for i in self.averaged:
                    if i not in means:
                        h = energy.layer_field(self.x, s, i, self.drive, rho_s)
                        means[i] = energy.conditional_mean(i, h, self.temperature, start=s[i])
                rho_s = tuple(means.get(i, r) for i, r in enumerate(rho_s))
        else:
            m, var = expected
            rho_s = tuple(energy.gaussian_mean(i, mi, var) for i, mi in enumerate(m))
            unit_cost = 0.5 * ((m[-1] - self.y) ** 2 + var)  # E[½(s'_Lk − y_k)² | s]
            ell = unit_cost.sum(-1)
            e = energy.energy(self.x, s, self.drive)
            out = m[-1]
        rho1 = rho_s[0]
        self.grad = self._add(self.grad, energy.param_grad(self.x, s, None, per_chain=True,
                                                           skip_input=True, rho_s=rho_s))
        self.in_sum = rho1.clone() if self.n == 0 else self.in_sum + rho1
        if self.covariance:
            if ell.shape[0] < 2:
                raise ValueError("the covariance estimator needs chains >= 2, got 1")
            # E[ρ_l ℓ] per unit; the output units of a Rao–Blackwellised step share their noise
            # with ℓ: E[ρ_k ℓ] = E[ρ_k ½(s'_k − y_k)²] + E[ρ_k] Σ_{j≠k} E[½(s'_j − y_j)²], a 1-D
            # Gaussian integral per unit
            last = rho_s[-1] * ell.unsqueeze(-1)
            if expected is not None:
                L, y = len(m) - 1, self.y
                own = energy.gaussian_mean(L, m[-1], var, lambda u: 0.5 * (u - y) ** 2)
                last = own + rho_s[-1] * (ell.unsqueeze(-1) - unit_cost)
            self.kept.append((rho_s, ell, last))
        self.cost_sum = self.cost_sum + ell
        self.out_sum = self.out_sum + out
        self.trace_e.append(e.mean(-1))
        self.trace_l.append(ell.mean(-1))
        self.n += 1

    def _with_input(self, sums: dict[str, Tensor], post_sum: Tensor) -> dict[str, Tensor]:
        full = dict(sums, **{"weights.0": self.energy.input_weight_grad(self.x, post_sum, True)})
        return {k: full[k] for k, _ in self.energy.named_parameters()}

    def _covariance(self) -> dict[str, Tensor]:
        """Per-chain sums over the kept samples of ∂θE(s_t)(ℓ(s_t) − ℓ̄_{−c}), where ℓ̄_{−c} is
        the mean cost of every *other* chain over all its kept samples, per input. The other
        chains are independent of chain c, so E[g_c,t (ℓ_c,t − ℓ̄_{−c})] = Cov(g, ℓ) without
        bias; a baseline over all their samples (not only those of the same step) keeps the
        centring's own noise a factor ≈ the number of samples smaller."""
        n, C = self.n, self.cost_sum.shape[0]
        base = (self.cost_sum.sum(0, keepdim=True) - self.cost_sum) / ((C - 1) * n)  # [C, B]
        rho = tuple(torch.stack([k[0][i] for k in self.kept], 1)  # [C, n, B, n_i]
                    for i in range(self.energy.num_layers))
        ell = torch.stack([k[1] for k in self.kept], 1)  # [C, n, B]
        last = torch.stack([k[2] for k in self.kept], 1)
        w = (ell - base.unsqueeze(1)).unsqueeze(-1)
        posts = [r * w for r in rho[:-1]] + [last - rho[-1] * base.unsqueeze(1).unsqueeze(-1)]
        flat = lambda t: t.reshape(C, -1, t.shape[-1])  # noqa: E731 (samples as positions)
        cov = self.energy.param_grad(self.x, None, None, per_chain=True, skip_input=True,
                                     rho_s=tuple(flat(r) for r in rho),
                                     posts=tuple(flat(p) for p in posts))
        return self._with_input(cov, posts[0].sum(1))

    def finish(self, nudge, state, info) -> Phase:
        n, B = self.n, self.x.shape[0]
        self.grad = self._with_input(self.grad, self.in_sum)
        if self.covariance:
            self.cov = self._covariance()
        grad_chains = {k: v / (n * B) for k, v in self.grad.items()}
        cov_chains = None if self.cov is None else {k: v / (n * B) for k, v in self.cov.items()}
        return Phase(
            nudge=nudge,
            state=state,
            grad={k: v.mean(0) for k, v in grad_chains.items()},
            grad_chains=grad_chains,
            cov_chains=cov_chains,
            cost=(self.cost_sum / n).mean(0),
            output=(self.out_sum / n).mean(0),
            trace={"energy": torch.stack(self.trace_e, 1), "cost": torch.stack(self.trace_l, 1)},
            info=dict(info, samples=float(n)),
        )


def check_nudge(energy: LayeredEnergy, cost: Cost, nudge: float) -> None:
    """Refuse a nudge b for which E + bℓ is unbounded below along the output layer.

    For b < 0 the cost pulls the output away from the target; once b·(cost curvature) cancels the
    self term's curvature k (ℓ = ½‖s_L − y‖² against ½‖s_L‖²: b ≤ −1), p_b ∝ exp(−(E + bℓ)/T) is
    not normalisable and relaxation runs off to infinity. Centered and negative estimators at
    |β| ≥ k/c therefore have no nudged equilibrium; this says so instead of returning numbers.
    """
    k, c = energy.output_curvature, cost.curvature
    if nudge >= 0.0 or k is None or c is None or k + nudge * c > 0.0:
        return
    raise ValueError(
        f"nudge b = {nudge:g} has no equilibrium for {type(energy).__name__} with {cost!r}: "
        f"b × cost curvature {c:g} cancels the output layer's self-term curvature {k:g}, so "
        "E + bℓ is unbounded below (p_b is not normalisable, relaxation diverges). Negative "
        f"nudges need b > {-k / c:g}: use |β| < {k / c:g} with centered, negative or "
        "random-sign estimators"
    )


def prepare(energy: LayeredEnergy, cost: Cost, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
    """Validate and convert ``x`` and ``y`` for ``energy`` (dtype/device of its parameters)."""
    if not isinstance(energy, LayeredEnergy):
        raise TypeError(f"energy must be a thermoep energy, got {type(energy).__name__}")
    if not isinstance(cost, Cost):
        raise TypeError(f"cost must be a thermoep Cost, got {type(cost).__name__}")
    x = energy.check_input(x)
    y = cost.target(y, energy.layer_sizes[-1], dtype=energy.dtype, device=energy.device)
    if y.shape[0] != x.shape[0]:
        raise ValueError(f"x has batch {x.shape[0]} but y has batch {y.shape[0]}")
    return x, y

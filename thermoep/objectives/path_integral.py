"""Path-integral estimator, seed ep-without-limits Thm 3.4:

    ∇θ J_β = −(1/T) ∫₀^β Cov_{p_b}(∂θE, ℓ) db,

by n-point Gauss–Legendre quadrature in b (exact for polynomial integrands of degree 2n − 1).
At each node the covariance is estimated without bias by leave-one-out cross-chain centring
(:class:`~thermoep.observers.CovarianceWithCost`): E[g_c (ℓ_c − ℓ̄_{−c})] = Cov(g, ℓ) because
the other chains are independent of chain c. Nodes run in increasing |b|, each warm-started
from the previous one (with a ``coupled`` sampler, each restarts from the free phase's start and
random stream).
The estimate is returned divided by β (∇L_β, docs/design.md §1).

The same nodes give the objective itself at no extra sampling (Lemma 3.3, dF_b/db = E_{p_b}[ℓ]):

    J_β = F_β − F_0 = ∫₀^β E_{p_b}[ℓ] db ≈ Σ_k w_k E_{b_k}[ℓ],

from each node's cost trace per chain; ``stats["objective"]`` is the batch mean of J_β and
``stats["objective_se"]`` its standard error over the chains
(:func:`~thermoep.objectives.base.objective_estimate`). The quadrature is exact when E_{p_b}[ℓ]
is a polynomial of degree ≤ 2·nodes − 1 in b; E_{p_b}[ℓ] is smooth and decreasing in b
(dE_b[ℓ]/db = −Var_b(ℓ)/T), so a few nodes leave a quadrature error far below the Monte-Carlo
error on the models the tests enumerate.

At T = 0 (``Relaxation``) the integrand −Cov_b/T becomes dG/db, whose integral is G(β) − G(0):
the estimator reduces to one-sided EP and costs one nudged phase.

**Swaps between the nodes** (``exchange=True``). The nodes form a ladder in b, (0, b_1, …, b_n)
in increasing |b|, so neighbouring nodes can swap: the free phase and every node run as *one*
:class:`~thermoep.samplers.ReplicaExchange` run over that nudge ladder (proposals every
``swap_every`` steps, common temperature T, log α = (b_i − b_j)(ℓ(s_i) − ℓ(s_j))/T), and each
node's observers (the covariance with the cost, the cost trace, with the estimator's smoother)
read its rung through :class:`~thermoep.samplers.replica_exchange.Rung`, the free phase's rung 0.
The gradient, its standard error and the objective are then combined exactly as above.

Why it stays unbiased: swaps satisfy detailed balance for the product law Π_r p_{b_r}, so rung r
is a sample of p_{b_r} (exact for Gibbs and MALA, with ULA's O(η) bias for ULA), and the
leave-one-out centring needs only that chain c is independent of the other chains. That holds:
``ReplicaExchange`` draws its swap decision per (chain, input) pair, from that pair's own
energies and costs, and exchanges positions between rungs of the *same* chain and input, never
across chains (``_swap``: ``accept`` is ``[C, B]`` and positions move with ``torch.where`` along
the rung index only). Each chain index is its own independent ladder; over time the states a
node sees in chain c come from different replicas of that ladder, which changes their
autocorrelation, not their law nor the independence across chains. Cost: the same rung-steps as
the sequential nodes (R = n + 1 rungs of ``steps`` steps), with every rung started afresh instead
of warm-started. The swap acceptance (mean and per pair) and the round trips land in
``stats`` (``swap_acceptance``, ``swap_acceptance_{i}``, ``round_trips``,
``round_trips_per_chain``, ``round_trip_time``, ``rungs``).
"""

from __future__ import annotations

import torch
from torch.nn.utils import parametrize

from .. import _checks
from ..observers.base import Lazy, Observer
from ..samplers.base import Phase
from ..samplers.loop import sample
from ..samplers.replica_exchange import ReplicaExchange, Rung
from .base import Estimator, gauss_legendre, standard_error

#: what a replica-exchange run's summary adds (ReplicaExchange.summary): the run's, not a node's
_EXCHANGE_FACTS = ("swap_acceptance", "round_trips", "round_trips_per_chain", "round_trip_time",
                   "rungs")


class _LastPosition(Observer):
    """The last kept position (a node's final state, for ``Phase.state``)."""

    name = "_last_position"

    def start(self, target, state, chains) -> None:
        super().start(target, state, chains)
        self.position = None

    def update(self, target, state) -> None:
        self.position = state.position

    def finish(self, target):
        return self.position


class PathIntegral(Estimator):
    """Thm 3.4 with ``nodes`` Gauss–Legendre nodes on [0, β]; needs chains ≥ 2 when T > 0.

    ``exchange=True`` runs the free phase and the nodes as one replica-exchange run over the
    nudge ladder (0, b_1, …, b_n) with swaps between neighbouring nodes every ``swap_every``
    steps (module docstring); it needs a Monte-Carlo sampler that replica exchange can wrap
    (Gibbs, Langevin) without ``coupled``. False (the default): the nodes run in turn, each
    warm-started from the previous one.
    """

    name = "path-integral"
    stochastic = True

    def __init__(self, sampler=None, beta: float = 1.0, nodes: int = 4, *,
                 exchange: bool = False, swap_every: int = 1,
                 beta_schedule=None, rao_blackwell: str | None = None) -> None:
        super().__init__(sampler, beta, beta_schedule=beta_schedule, rao_blackwell=rao_blackwell)
        self.nodes = _checks.positive_int("nodes", nodes)
        if not isinstance(exchange, bool):
            raise TypeError(f"exchange must be True or False, got {exchange!r}")
        self.exchange = exchange
        self.swap_every = _checks.positive_int("swap_every", swap_every)
        if exchange:
            if self.deterministic:
                raise ValueError(f"exchange=True swaps Monte-Carlo states between the nodes; "
                                 f"{self.sampler!r} is deterministic (T = 0): use Gibbs or "
                                 "Langevin")
            if self.coupled:
                raise ValueError("exchange=True runs every node in one replica-exchange run, "
                                 "so there are no separate phases to couple: use a sampler with "
                                 "coupled=False")
            rex = self._ladder_sampler()  # refuses what replica exchange cannot wrap, now
            if self.smoother is not None:
                self.smoother.check_sampler(rex)

    def __repr__(self) -> str:
        ex = (f", exchange=True, swap_every={self.swap_every}" if self.exchange else "")
        return (f"PathIntegral(sampler={self.sampler!r}, beta={self.beta}, "
                f"nodes={self.nodes}{ex})")

    @property
    def reads_free_gradient(self) -> bool:
        """Only the deterministic reduction (one-sided EP) reads the free phase's gradient;
        at T > 0 the free phase gives the prediction, the cost and the nodes' start."""
        return self.deterministic

    def _ladder(self) -> list[float]:
        """(0, b_1, …, b_n): the free phase and the nodes in increasing |b| (monotone)."""
        return [0.0] + sorted((b for b, _ in self.quadrature()), key=abs)

    def _ladder_sampler(self) -> ReplicaExchange:
        return ReplicaExchange(self.sampler, nudges=self._ladder(), swap_every=self.swap_every)

    def quadrature(self) -> list[tuple[float, float]]:
        """[(b_k, w_k)] Gauss–Legendre on [0, β] (weights sum to β)."""
        return gauss_legendre(self.beta, self.nodes)

    def objective_rule(self):
        """The Gauss–Legendre nodes of the gradient also integrate E_{p_b}[ℓ] (T > 0)."""
        return None if self.deterministic else self.quadrature()

    def stencil(self):
        """∇L_β = (E_β[∂θE] − E_0[∂θE])/β, what the covariance integral equals (Thm 3.4): the
        estimate at T = 0 (one-sided EP) and the exact reference of small models."""
        return [(0.0, -1.0 / self.beta), (self.beta, 1.0 / self.beta)]

    def __call__(self, energy, cost, x, y, *, generator: torch.Generator | None = None):
        if self.deterministic:
            return super().__call__(energy, cost, x, y, generator=generator)
        target = self._target(energy, cost, x, y)
        if self.sampler.chains < 2:
            raise ValueError(f"PathIntegral needs a sampler with chains >= 2 (got "
                             f"{self.sampler.chains}) to estimate covariances without bias")
        T = self.temperature
        nodes = sorted(self.quadrature(), key=lambda bw: abs(bw[0]))
        with parametrize.cached():
            if self.exchange:
                free, phases, facts = self._exchange_phases(target, generator)
            else:
                free, phases = self._phases(target, [b for b, _ in nodes], generator,
                                            covariance=True)
                facts = {}
        terms = [(-w / (T * self.beta), phases[b]["covariance"]) for b, w in nodes]
        grads = {k: sum(c * cov.mean[k] for c, cov in terms) for k in terms[0][1].mean}
        stats = self._phase_stats(phases)
        stats.update(facts)
        # per-chain replicates of the whole quadrature, taken only when the error is read
        stats["se"] = standard_error(Lazy(grads, lambda k: sum(c * cov.chains[k]
                                                               for c, cov in terms)))
        stats["nodes"] = self.nodes
        return self._gradient(grads, self.nodes, stats, free, phases)

    def _exchange_phases(self, target, generator):
        """One replica-exchange run over (0, b_1, …, b_n), split into one :class:`Phase` per
        rung (what the sequential nodes give), and the run's swap facts."""
        ladder = self._ladder()
        observers, names = [], []
        for r in range(len(ladder)):
            inner = self.observers(r == 0, covariance=r > 0) + [_LastPosition()]
            rungs = [Rung(o, r) for o in inner]
            observers += rungs
            names.append([(o.name, rung.name) for o, rung in zip(inner, rungs, strict=True)])
        run = sample(self._ladder_sampler(), target, observers=observers, generator=generator)
        R = len(ladder)
        suffixes = tuple(f"_rung{r}" for r in range(1, R))
        facts = {k: v for k, v in run.info.items()
                 if k in _EXCHANGE_FACTS or k.startswith("swap_acceptance_")}
        shared = {k: run.info[k] for k in ("steps", "samples", "chains")}
        phases = {}
        for r, b in enumerate(ladder):
            observed = {inner: run.observed[outer] for inner, outer in names[r]}
            state = observed.pop(_LastPosition.name)
            if r == 0:
                info = {k: v for k, v in run.info.items()
                        if k not in facts and not k.endswith(suffixes)}
            else:
                tag = f"_rung{r}"
                info = dict(shared, **{k[: -len(tag)]: v for k, v in run.info.items()
                                       if k.endswith(tag)})
            phases[b] = Phase(nudge=b, state=state, observed=observed, info=info)
        return phases[0.0], phases, facts

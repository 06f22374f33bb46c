"""Replica exchange (parallel tempering) over a ladder of temperatures and/or nudges.

Rung r = 0..R−1 targets p_r(s) ∝ exp(−U_r(s)/T_r) with U_r = E(s; x) + b_r·ℓ(s_L, y). Rung 0 is
the target itself: T_0 is the wrapped sampler's temperature and b_0 the target's nudge. Each rung
keeps its own state of the wrapped Monte-Carlo sampler (Gibbs, ULA, MALA) and every step advances
every rung by one step of that sampler at (T_r, b_r), which leaves p_r invariant. After every
``swap_every`` steps neighbouring rungs propose to exchange their positions, independently for
each (chain, input) pair.

**The acceptance.** The chain runs on the product space with joint law Π_r p_r(s_r). Exchanging
the positions of rungs i and j is an involution (a symmetric, deterministic proposal), so the
Metropolis rule accepts it with probability min(1, α),

    α = p_i(s_j) p_j(s_i) / (p_i(s_i) p_j(s_j)),        the normalisers Z_i, Z_j cancel,
    log α = [U_i(s_i) − U_i(s_j)]/T_i + [U_j(s_j) − U_j(s_i)]/T_j.

With E_r := E(s_r), ℓ_r := ℓ(s_r) and U_r(s) = E(s) + b_r ℓ(s),

    U_i(s_i) − U_i(s_j) =  (E_i − E_j) + b_i (ℓ_i − ℓ_j),
    U_j(s_j) − U_j(s_i) = −(E_i − E_j) − b_j (ℓ_i − ℓ_j),
    log α = (1/T_i − 1/T_j)(E_i − E_j) + (b_i/T_i − b_j/T_j)(ℓ_i − ℓ_j).

Its special cases:

* a temperature ladder (common b): log α = (1/T_i − 1/T_j)(U_i − U_j), U = E + bℓ, the usual
  parallel-tempering rule;
* a nudge ladder (common T): log α = (b_i − b_j)(ℓ_i − ℓ_j)/T = −(b_i − b_j)(ℓ(s_j) − ℓ(s_i))/T:
  a state of lower cost moves towards the larger nudge;
* equal rungs: log α = 0, every swap is accepted.

Detailed balance holds for the joint law, so each rung's marginal stays p_r and rung 0 samples
the target exactly whenever the wrapped sampler does (Gibbs, MALA); with ULA every rung carries
its O(η) bias. A NaN log α is a rejection.

**The ladders.** A temperature ladder starts at the wrapped sampler's temperature and does not
decrease (equal rungs are allowed); a nudge ladder starts at the target's nudge and is monotone.
The Gauss–Legendre nodes of the path integral (Thm 3.4), b_j = β(1 + ξ_j)/2, form a nudge ladder
``(0, b_1, …, b_n)`` (:meth:`ReplicaExchange.path_integral_ladder`): one run then samples p_0 and
every node's p_{b_j}, each rung's states readable by the :class:`Rung` observer.

**The swap scheme.** Deterministic even–odd (Okabe et al. 2001; Syed et al., "Non-reversible
parallel tempering", JRSSB 2022): swap round k proposes every pair (r, r + 1) with r ≡ k (mod 2)
at once (the pairs are disjoint). Round trips are counted per (chain, input) pair: a replica that
was on the bottom rung, reached the top and came back to the bottom completes one; its round-trip
time is the number of steps between its two visits of the bottom.

**One state per rung.** The wrapped samplers read the temperature and the nudge as numbers, so
the rungs are kept as R states of the wrapped sampler, stepped in turn (R small tensor programs
per step, each batched over chains and inputs), rather than as one extra tensor dimension. After
a swap the rungs' states are rebuilt from their new positions by the wrapped sampler's ``init``
(its caches — U and ∇U for MALA, the last laws for Gibbs — depend on the rung's T and b), which
needs a sampler with the ``state_from_position`` capability; Pyro's NUTS/HMC (whose kernels adapt)
and the deterministic relaxation are refused. The rebuilt state has no ULA step law, so the step
Rao–Blackwellisation is refused (``gaussian_steps`` is False).

``step``'s info carries the swap acceptance of each pair proposed in the round
(``swap_acceptance_{i}`` for the pair (i, i + 1)), rung 0's own facts under their names and the
other rungs' as ``{name}_rung{r}``, all tensors (no host synchronisation); ``summary`` adds the
acceptance per pair from the counts, their mean ``swap_acceptance``, ``round_trips`` (completed,
summed over replicas and (chain, input) pairs), ``round_trips_per_chain`` (their mean per
(chain, input) pair), ``round_trip_time`` (mean steps per round trip; NaN without one) and
``rungs``.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import Tensor

from .. import _checks
from ..energies.model import State
from ..observers.base import Observer
from .base import Target
from .monte_carlo import MonteCarloSampler


class ReplicaState(NamedTuple):
    position: State        # rung 0's position: the target's sample
    rungs: tuple           # the wrapped sampler's state at each rung
    targets: tuple         # each rung's Target (nudge b_r, temperature T_r)
    replica: Tensor        # [R, C, B]: which replica sits on each rung
    heading: Tensor        # [R, C, B], of the replica on each rung: 0 never on the bottom rung,
    #                        1 left the bottom, −1 reached the top since
    since: Tensor          # [R, C, B], of the replica on each rung: the step its trip began
    round_trips: Tensor    # [C, B]: completed round trips, all replicas
    trip_steps: Tensor     # [C, B]: steps of the completed round trips, summed
    accepted: Tensor       # [R − 1]: accepted swaps per neighbouring pair, summed over (C, B)
    proposed: Tensor       # [R − 1]: proposed swaps per neighbouring pair
    chains: int

    @property
    def laws(self) -> dict | None:
        """Rung 0's last laws (Gibbs), for the conditional Rao–Blackwellisation."""
        return getattr(self.rungs[0], "laws", None)


def _ladder(name: str, values, positive: bool) -> tuple[float, ...]:
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence | np.ndarray | Tensor):
        raise TypeError(f"{name} must be a sequence of numbers, got {type(values).__name__}")
    out = []
    for v in (values.tolist() if isinstance(values, np.ndarray | Tensor) else values):
        out.append(_checks.positive_float(name, v) if positive else
                   _checks.finite_float(name, v))
    if len(out) < 2:
        raise ValueError(f"replica exchange needs at least 2 rungs; {name} has {len(out)}: "
                         f"{list(out)}")
    return tuple(out)


class ReplicaExchange:
    """``ReplicaExchange(sampler, temperatures=None, nudges=None, swap_every=1)``: replica
    exchange over rungs (T_r, b_r) of the wrapped Monte-Carlo sampler (module docstring).

    ``temperatures``: non-decreasing, starting at ``sampler.temperature`` (None: every rung at
    it). ``nudges``: monotone, starting at the target's nudge, checked by :meth:`init` (None:
    every rung at it). At least one ladder, both of the same length ≥ 2. Observers see rung 0's
    position; ``state.rungs[r]`` and ``state.targets[r]`` are rung r's state and target
    (:class:`Rung` observes them).
    """

    deterministic = False
    #: a swap leaves no Gaussian step law behind (module docstring)
    gaussian_steps = False
    #: nesting replica exchange is refused: its init starts fresh ladders
    state_from_position = False

    def __init__(self, sampler, temperatures: Sequence[float] | None = None,
                 nudges: Sequence[float] | None = None, swap_every: int = 1) -> None:
        if not (hasattr(sampler, "init") and hasattr(sampler, "step")):
            raise TypeError(f"sampler must be a thermoep sampler (init and step), got "
                            f"{type(sampler).__name__}")
        if getattr(sampler, "deterministic", False):
            raise TypeError(f"replica exchange needs a Monte-Carlo sampler (T > 0); {sampler!r} "
                            "is deterministic: use Gibbs or Langevin")
        if not getattr(sampler, "state_from_position", False):
            raise TypeError(
                f"replica exchange moves positions between rungs and rebuilds each rung's state "
                f"from its position; {sampler!r} cannot (its state is more than a position and "
                "caches of it, e.g. adapting Pyro kernels): use Gibbs or Langevin")
        self.sampler = sampler
        self.swap_every = _checks.positive_int("swap_every", swap_every)
        t0 = float(sampler.temperature)
        if temperatures is None and nudges is None:
            raise ValueError("replica exchange needs a ladder: give temperatures=, nudges= or "
                             "both (at least 2 rungs)")
        temps = None if temperatures is None else _ladder("temperatures", temperatures, True)
        bs = None if nudges is None else _ladder("nudges", nudges, False)
        if temps is not None and bs is not None and len(temps) != len(bs):
            raise ValueError(f"temperatures and nudges must have one entry per rung; got "
                             f"{len(temps)} temperatures {list(temps)} and {len(bs)} nudges "
                             f"{list(bs)}")
        if temps is not None:
            if not math.isclose(temps[0], t0, rel_tol=1e-12, abs_tol=0.0):
                raise ValueError(f"the temperature ladder must start at the target, the wrapped "
                                 f"sampler's temperature {t0:g}; got {list(temps)}")
            if any(b < a for a, b in zip(temps[:-1], temps[1:], strict=True)):
                raise ValueError(f"temperatures must be sorted, non-decreasing from the target's "
                                 f"T = {t0:g}; got {list(temps)}")
            temps = (t0, *temps[1:])
        if bs is not None:
            up = all(b >= a for a, b in zip(bs[:-1], bs[1:], strict=True))
            down = all(b <= a for a, b in zip(bs[:-1], bs[1:], strict=True))
            if not (up or down):
                raise ValueError(f"nudges must be sorted (monotone from the target's nudge); got "
                                 f"{list(bs)}")
        n = len(temps if temps is not None else bs)
        self.temperatures: tuple[float, ...] = temps if temps is not None else (t0,) * n
        self.nudges: tuple[float, ...] | None = bs
        self._samplers = tuple(sampler if T == t0 else self._at_temperature(sampler, T)
                               for T in self.temperatures)

    @staticmethod
    def _at_temperature(sampler, temperature: float):
        other = copy.copy(sampler)
        other.temperature = temperature
        return other

    @staticmethod
    def path_integral_ladder(beta: float, nodes: int) -> tuple[float, ...]:
        """``(0, b_1, …, b_n)``: the free phase and the path integral's Gauss–Legendre nodes
        b_j = β(1 + ξ_j)/2 in increasing |b| (monotone for either sign of β), a nudge ladder
        for :class:`ReplicaExchange`."""
        beta = _checks.finite_float("beta", beta, allow_zero=False)
        xi, _ = np.polynomial.legendre.leggauss(_checks.positive_int("nodes", nodes))
        return (0.0, *sorted((float(beta * (1.0 + t) / 2.0) for t in xi), key=abs))

    # -- what the loop and the estimators read: the wrapped sampler's settings ------------------
    @property
    def rungs(self) -> int:
        return len(self.temperatures)

    @property
    def temperature(self) -> float:
        return float(self.sampler.temperature)

    @property
    def steps(self) -> int:
        return self.sampler.steps

    @property
    def burn_in(self) -> int:
        return self.sampler.burn_in

    @property
    def thin(self) -> int:
        return getattr(self.sampler, "thin", 1)

    @property
    def chains(self) -> int:
        return self.sampler.chains

    @property
    def coupled(self) -> bool:
        return bool(getattr(self.sampler, "coupled", False))

    @property
    def num_samples(self) -> int:
        return self.sampler.num_samples

    def steps_for(self, init) -> int:
        return self.sampler.steps_for(init)

    def burn_in_for(self, init) -> int:
        return self.sampler.burn_in_for(init)

    #: one phase from raw ``x, y`` with the default observers, as every Monte-Carlo sampler
    run = MonteCarloSampler.run

    def check(self, energy, cost) -> None:
        check = getattr(self.sampler, "check", None)
        if check is not None:
            check(energy, cost)

    def __repr__(self) -> str:
        return (f"ReplicaExchange({self.sampler!r}, temperatures={list(self.temperatures)}, "
                f"nudges={None if self.nudges is None else list(self.nudges)}, "
                f"swap_every={self.swap_every})")

    # -- the sampler ---------------------------------------------------------------------------
    def rung_targets(self, target: Target) -> tuple[Target, ...]:
        """Each rung's target: ``target`` at (b_r, T_r), sharing its cache."""
        if isinstance(target.nudge, complex):
            raise TypeError(f"replica exchange samples real nudges; got b = {target.nudge}")
        nudges = self.nudges
        if nudges is None:
            nudges = (float(target.nudge),) * self.rungs
        elif not math.isclose(nudges[0], target.nudge, rel_tol=1e-12, abs_tol=1e-12):
            raise ValueError(f"the nudge ladder must start at the target's nudge "
                             f"b = {target.nudge:g}; got {list(nudges)}")
        return tuple(dataclasses.replace(target, nudge=float(b), temperature=float(T))
                     for b, T in zip((target.nudge, *nudges[1:]), self.temperatures, strict=True))

    def init(self, target: Target, init: State | None = None, generator=None) -> ReplicaState:
        targets = self.rung_targets(target)
        rungs = tuple(s.init(t, init=init, generator=generator)
                      for s, t in zip(self._samplers, targets, strict=True))
        first = rungs[0].position[0]
        R, C, B = self.rungs, first.shape[0], first.shape[1]
        dev = first.device
        replica = torch.arange(R, device=dev).reshape(R, 1, 1).expand(R, C, B).clone()
        heading = torch.zeros(R, C, B, dtype=torch.int8, device=dev)
        heading[0] = 1
        zeros = torch.zeros(C, B, dtype=torch.long, device=dev)
        return ReplicaState(rungs[0].position, rungs, targets, replica, heading,
                            torch.zeros(R, C, B, dtype=torch.long, device=dev), zeros,
                            zeros.clone(), torch.zeros(R - 1, dtype=torch.long, device=dev),
                            torch.zeros(R - 1, dtype=torch.long, device=dev), rungs[0].chains)

    def step(self, target: Target, state: ReplicaState, t: int, generator=None):
        rungs, info = [], {}
        for r, (sampler, tg, st) in enumerate(zip(self._samplers, state.targets, state.rungs,
                                                  strict=True)):
            new, facts = sampler.step(tg, st, t, generator=generator)
            rungs.append(new)
            for k, v in (facts or {}).items():
                info[k if r == 0 else f"{k}_rung{r}"] = v
        state = state._replace(position=rungs[0].position, rungs=tuple(rungs))
        if (t + 1) % self.swap_every == 0:
            state = self._swap(state, (t + 1) // self.swap_every - 1, t + 1, info, generator)
        return state, info or None

    def _swap(self, state: ReplicaState, round_: int, t: int, info: dict, generator):
        """One even–odd swap round (module docstring), then the round-trip bookkeeping."""
        R = self.rungs
        pairs = range(round_ % 2, R - 1, 2)
        if not pairs:
            return state
        tg = state.targets[0]
        energy, cost, x, y, L = tg.energy, tg.cost, tg.x, tg.y, tg.energy.output
        positions = [list(st.position) for st in state.rungs]
        C, B = positions[0][0].shape[:2]
        touched = {r for i in pairs for r in (i, i + 1)}
        e = {r: energy.energy(x, positions[r]).expand(C, B) for r in touched}
        ell = {r: cost.value(positions[r][L], y).expand(C, B) for r in touched}
        replica, heading, since = state.replica.clone(), state.heading.clone(), state.since.clone()
        accepted, proposed = state.accepted.clone(), state.proposed.clone()
        nds = [layer.ndim for layer in energy.free_layers]
        for i in pairs:
            j = i + 1
            ti, tj = state.targets[i].temperature, state.targets[j].temperature
            bi, bj = state.targets[i].nudge, state.targets[j].nudge
            log_alpha = ((1.0 / ti - 1.0 / tj) * (e[i] - e[j])
                         + (bi / ti - bj / tj) * (ell[i] - ell[j]))
            log_alpha = torch.nan_to_num(log_alpha, nan=-math.inf)
            unif = torch.rand(log_alpha.shape, generator=generator, dtype=log_alpha.dtype,
                              device=log_alpha.device)
            accept = torch.log(unif) < log_alpha                         # [C, B]
            for k, nd in enumerate(nds):
                m = accept.reshape(C, B, *([1] * nd))
                a, b = positions[i][k], positions[j][k]
                positions[i][k], positions[j][k] = torch.where(m, b, a), torch.where(m, a, b)
            for labels in (replica, heading, since):
                a, b = labels[i].clone(), labels[j].clone()
                labels[i], labels[j] = torch.where(accept, b, a), torch.where(accept, a, b)
            accepted[i] += accept.sum()
            proposed[i] += accept.numel()
            info[f"swap_acceptance_{i}"] = accept.to(log_alpha.dtype).mean()
        # the bottom rung: a replica coming down from the top completes a round trip
        done = heading[0] == -1
        round_trips = state.round_trips + done
        trip_steps = state.trip_steps + torch.where(done, t - since[0], 0)
        since[0] = torch.where(heading[0] == 1, since[0], t)
        heading[0] = 1
        heading[R - 1] = torch.where(heading[R - 1] == 1, -1, heading[R - 1]).to(heading.dtype)
        rungs = list(state.rungs)
        for r in sorted(touched):  # rebuild the caches (U, ∇U, laws) at the new positions
            rungs[r] = self._samplers[r].init(state.targets[r], init=tuple(positions[r]),
                                              generator=generator)
        return state._replace(position=rungs[0].position, rungs=tuple(rungs), replica=replica,
                              heading=heading, since=since, round_trips=round_trips,
                              trip_steps=trip_steps, accepted=accepted, proposed=proposed)

    def summary(self, state: ReplicaState, means: dict) -> dict[str, float]:
        out = {k: v for k, v in self.sampler.summary(state.rungs[0], means).items()
               if not k.startswith("swap_acceptance")}  # re-added below, in pair order
        accepted, proposed = state.accepted.tolist(), state.proposed.tolist()
        rates = [a / p if p else math.nan for a, p in zip(accepted, proposed, strict=True)]
        for i, rate in enumerate(rates):
            out[f"swap_acceptance_{i}"] = rate
        seen = [r for r in rates if not math.isnan(r)]
        out["swap_acceptance"] = sum(seen) / len(seen) if seen else math.nan
        trips, steps = int(state.round_trips.sum()), int(state.trip_steps.sum())
        out["round_trips"] = float(trips)
        out["round_trips_per_chain"] = trips / state.round_trips.numel()
        out["round_trip_time"] = steps / trips if trips else math.nan
        out["rungs"] = float(self.rungs)
        return out


class Rung(Observer):
    """``Rung(observer, rung, name=None)``: ``observer`` run on rung ``rung`` of a
    :class:`ReplicaExchange` phase — it sees that rung's state and target (nudge b_r,
    temperature T_r), so one phase over a nudge ladder gives every node's statistics. Its
    result is ``phase.observed[name]`` (default ``"{observer.name}_rung{rung}"``)."""

    def __init__(self, observer: Observer, rung: int, *, name: str | None = None) -> None:
        self.observer = observer
        self.rung = _checks.positive_int("rung", rung, minimum=0)
        self.name = name or f"{observer.name}_rung{self.rung}"

    def _at(self, state) -> tuple[Any, Any]:
        rungs = getattr(state, "rungs", None)
        if rungs is None:
            raise TypeError(f"{self!r} observes a ReplicaExchange phase; this sampler's state "
                            f"is a {type(state).__name__}")
        if self.rung >= len(rungs):
            raise ValueError(f"rung {self.rung} out of range: the ladder has {len(rungs)} rungs")
        return state.targets[self.rung], rungs[self.rung]

    def start(self, target, state, chains) -> None:
        super().start(target, state, chains)
        self.target, inner = self._at(state)
        self.observer.start(self.target, inner, chains)

    def update(self, target, state) -> None:
        tg, inner = self._at(state)
        self.observer.update(tg, inner)

    def finish(self, target) -> Any:
        return self.observer.finish(self.target)


__all__ = ["ReplicaExchange", "ReplicaState", "Rung"]

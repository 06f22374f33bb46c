"""The one loop every sampler runs in: init, ``steps`` steps, burn-in and thinning, observers.

Monte-Carlo samplers keep every ``thin``-th state after ``burn_in`` steps; the deterministic
relaxation keeps its final state only (and may stop early at its tolerance). Per-step facts from
``step``'s info (acceptance, ...) are summed on the device without a host synchronisation and
averaged at the end of the phase.
"""

from __future__ import annotations

import dataclasses

import torch
from torch.nn.utils import parametrize

from .base import Phase, Target


def sample(sampler, target: Target, *, observers=(), init=None, generator=None) -> Phase:
    """Run ``sampler`` on ``target`` and return the :class:`Phase`, with each observer's result
    in ``phase.observed[observer.name]``."""
    if target.temperature != float(sampler.temperature):
        target = dataclasses.replace(target, temperature=float(sampler.temperature))
    observers = list(observers)
    names = [o.name for o in observers]
    if len(set(names)) != len(names):
        raise ValueError(f"observer names must be unique within a phase, got {names}")
    with torch.no_grad(), parametrize.cached():
        state = sampler.init(target, init=init, generator=generator)
        chains = getattr(state, "chains", None)
        steps = sampler.steps_for(init)
        burn_in = _burn_in(sampler, init, steps)
        thin = getattr(sampler, "thin", 1)
        deterministic = bool(getattr(sampler, "deterministic", False))
        started = False
        sums: dict[str, torch.Tensor | float] = {}
        counts: dict[str, int] = {}
        kept, taken = 0, 0
        for t in range(steps):
            state, info = sampler.step(target, state, t, generator=generator)
            taken += 1
            for k, v in (info or {}).items():
                sums[k] = sums.get(k, 0.0) + v
                counts[k] = counts.get(k, 0) + 1
            if not deterministic and t >= burn_in and (t - burn_in) % thin == 0:
                if not started:
                    for o in observers:
                        o.start(target, state, chains)
                    started = True
                for o in observers:
                    o.update(target, state)
                kept += 1
            if deterministic and sampler.converged(state):
                break
        finish = getattr(sampler, "finish_state", None)
        if finish is not None:
            state = finish(state)
        if deterministic:
            for o in observers:
                o.start(target, state, chains)
                o.update(target, state)
            kept = 1
        observed = {o.name: o.finish(target) for o in observers}
    info = {"steps": float(taken), "samples": float(kept), "chains": float(chains or 0)}
    info.update(sampler.summary(state, {k: _mean(sums[k], counts[k]) for k in sums}))
    return Phase(nudge=target.nudge, state=state.position, observed=observed, info=info)


def sample_stacked(sampler, target: Target, observers, *, init=None,
                   generator=None) -> list[Phase]:
    """Run every nudge of a stacked target (:meth:`Target.stacked`) as one tensor program and
    return one :class:`Phase` per nudge; ``observers[p]`` observe phase p.

    The phases share the initial state and every random draw (common random numbers), so this
    gives what running them one after the other from the same generator state gives, with one
    step's overhead for all of them. The sampler must say it can (``stacks_nudges``) and give
    each phase's state (``select``).
    """
    if not getattr(sampler, "stacks_nudges", False):
        raise TypeError(f"{type(sampler).__name__} cannot run several nudges as one program "
                        "(stacks_nudges); sample each phase on its own")
    P = target.phases
    if P is None or len(observers) != P:
        raise ValueError(f"a stacked target and one observer list per nudge are needed (got "
                         f"{P} nudges, {len(observers)} observer lists)")
    if target.temperature != float(sampler.temperature):
        target = dataclasses.replace(target, temperature=float(sampler.temperature))
    observers = [list(obs) for obs in observers]
    parts = [target.phase(p) for p in range(P)]
    with torch.no_grad(), parametrize.cached():
        state = sampler.init(target, init=init, generator=generator)
        chains = getattr(state, "chains", None)
        steps = sampler.steps_for(init)
        burn_in, thin = _burn_in(sampler, init, steps), getattr(sampler, "thin", 1)
        sums: dict[str, torch.Tensor | float] = {}
        kept = 0
        for t in range(steps):
            state, info = sampler.step(target, state, t, generator=generator)
            for k, v in (info or {}).items():
                sums[k] = sums.get(k, 0.0) + v
            if t >= burn_in and (t - burn_in) % thin == 0:
                for p in range(P):
                    sub = sampler.select(target, state, p)
                    for o in observers[p]:
                        if kept == 0:
                            o.start(parts[p], sub, chains)
                        o.update(parts[p], sub)
                kept += 1
        out = []
        for p in range(P):
            sub = sampler.select(target, state, p)
            observed = {o.name: o.finish(parts[p]) for o in observers[p]}
            info = {"steps": float(steps), "samples": float(kept), "chains": float(chains or 0)}
            info.update(sampler.summary(sub, {k: _mean(v, steps) for k, v in sums.items()}))
            out.append(Phase(nudge=parts[p].nudge, state=sub.position, observed=observed,
                             info=info))
    return out


def _burn_in(sampler, init, steps: int) -> int:
    """The phase's discarded steps (every step for a deterministic sampler, which keeps its
    final state only)."""
    per_phase = getattr(sampler, "burn_in_for", None)
    return per_phase(init) if per_phase is not None else getattr(sampler, "burn_in", steps)


def _mean(total, count: int) -> float:
    return float(total) / max(count, 1)


__all__ = ["sample", "sample_stacked"]

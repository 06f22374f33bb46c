"""Gradient alignment: cosine similarity of estimates with reference gradients.

* :func:`gradient_alignment` — seed ep-without-limits Fig. 1A: over a β grid, the cosine of each
  estimator's ĝ(β) with (a) ∇L_sup, the gradient of the supervised loss
  (:func:`~thermoep.diagnostics.references.supervised_gradient`), and (b) the gradient the
  estimator targets, ∇L_β = ∇J_β/β (:func:`~thermoep.diagnostics.references.target_gradient`:
  exact by enumeration for small binary models, else a high-budget estimate whose standard error
  is reported). As β grows the nudged phase moves the state further, so the finite difference
  rises above the sampling noise and both cosines climb.
* :func:`alignment_over_training` — seed hybrid-ep Appendix B: at each saved epoch, the cosine of
  standard (one-sided, "std", eq. 4) and centered ("cep", eq. 8) EP with BPTT (Ernoult et al.
  2019) on a fixed diagnostic batch; std's O(β) bias (eq. 7) shows as a drift later in training.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
import xarray as xr

from ..objectives.base import Estimator
from ..objectives.centered import Centered
from ..objectives.one_sided import FiniteNudge, OneSided
from ..objectives.path_integral import PathIntegral
from ..objectives.references import bptt_grad
from ..samplers.base import check_nudge
from ..samplers.relax import Relaxation
from .checkpoints import load_model
from .dataset import finish
from .references import exact_available, relative, se_norm, supervised_gradient, target_gradient
from .snr import _betas

__all__ = ["DEFAULT_ESTIMATORS", "alignment_over_training", "default_estimators",
           "gradient_alignment"]

EstimatorFactory = Callable[[float], Estimator]
DEFAULT_ESTIMATORS = ("one-sided", "centered", "finite-nudge", "path-integral")


def default_estimators(energy, *, sampler=None, relaxation=None, nodes: int = 4,
                       names: Sequence[str] = DEFAULT_ESTIMATORS) -> dict[str, EstimatorFactory]:
    """name → (β ↦ estimator). The deterministic stencils (one-sided, centered, negative) use
    ``relaxation`` when given (continuous units), the thermodynamic ones (finite-nudge,
    path-integral) the Monte-Carlo ``sampler``; either falls back on the other."""
    if sampler is None and relaxation is None:
        raise ValueError("default_estimators needs a sampler, a relaxation or both")
    if energy.discrete:
        relaxation = None
    det = relaxation if relaxation is not None else sampler
    mc = sampler if sampler is not None else relaxation
    table: dict[str, EstimatorFactory] = {
        "one-sided": lambda b: OneSided(det, b),
        "negative": lambda b: OneSided(det, -abs(b)),
        "centered": lambda b: Centered(det, b),
        "finite-nudge": lambda b: FiniteNudge(mc, b),
        "path-integral": lambda b: PathIntegral(mc, b, nodes=nodes),
    }
    unknown = [n for n in names if n not in table]
    if unknown:
        raise ValueError(f"unknown estimators {unknown}; choose from {sorted(table)}")
    return {n: table[n] for n in names}


def _factories(energy, estimators, sampler, relaxation, nodes):
    if estimators is None or (isinstance(estimators, Sequence)
                              and not isinstance(estimators, str)):
        names = DEFAULT_ESTIMATORS if estimators is None else tuple(estimators)
        return default_estimators(energy, sampler=sampler, relaxation=relaxation, nodes=nodes,
                                  names=names)
    if isinstance(estimators, Mapping):
        return dict(estimators)
    raise TypeError(f"estimators must be names, a mapping name → factory(β), or None; got "
                    f"{type(estimators).__name__}")


def gradient_alignment(energy, cost, x, y, betas: Sequence[float], *,
                       estimators: Sequence[str] | Mapping[str, EstimatorFactory] | None = None,
                       sampler=None, relaxation: Relaxation | None = None, nodes: int = 4,
                       budget: int = 8, supervised_relaxation: Relaxation | None = None,
                       generator: torch.Generator | None = None) -> xr.Dataset:
    """Cosines of ĝ(β) with ∇L_sup and with each estimator's own target over a β grid.

    Dims (estimator, beta). Variables: ``cos_sup`` (vs ∇L_sup), ``cos_target`` (vs the target
    gradient: exact, or a ``budget``× estimate), ``target_rel_se`` (‖SE‖/‖target‖ of that
    estimate, 0 if exact), ``est_rel_se`` (‖SE‖/‖ĝ‖ of the estimate), ``grad_norm`` (‖ĝ‖).
    The attrs ``supervised`` and ``target_method`` say how the references were computed.
    """
    betas = _betas(betas)
    factories = _factories(energy, estimators, sampler, relaxation, nodes)
    first = factories[next(iter(factories))](betas[0])
    T = float(first.temperature) if energy.discrete else 0.0
    sup = supervised_gradient(energy, cost, x, y, temperature=T,
                              relaxation=supervised_relaxation)
    names = list(factories)
    shape = (len(names), len(betas))
    out = {k: np.full(shape, math.nan) for k in ("cos_sup", "cos_target", "target_rel_se",
                                                 "est_rel_se", "grad_norm")}
    methods, skipped = {}, []
    for i, name in enumerate(names):
        for j, beta in enumerate(betas):
            est = factories[name](beta)
            try:  # e.g. centered at β ≥ 1 with a squared error: the −β phase has no equilibrium
                for b, _ in est.stencil():
                    check_nudge(energy, cost, b)
            except ValueError:
                skipped.append(f"{name} at β={beta:g}")
                continue
            g = est(energy, cost, x, y, generator=generator)
            ref = target_gradient(est, energy, cost, x, y, budget=budget, generator=generator)
            methods[name] = ref.stats.get("method", "")
            gn, rn = float(g.flat().norm()), float(ref.flat().norm())
            out["cos_sup"][i, j] = g.cosine(sup)
            out["cos_target"][i, j] = g.cosine(ref)
            out["target_rel_se"][i, j] = relative(se_norm(ref), rn)
            out["est_rel_se"][i, j] = relative(se_norm(g), gn)
            out["grad_norm"][i, j] = gn
    ds = xr.Dataset({k: (("estimator", "beta"), v) for k, v in out.items()},
                    coords={"estimator": names, "beta": np.array(betas)})
    ds["cos_sup"].attrs["long_name"] = "cos(ĝ(β), ∇L_sup)"
    ds["cos_target"].attrs["long_name"] = "cos(ĝ(β), ∇L_β)"
    samplers = {n: factories[n](betas[0]).sampler for n in names}
    config = {"energy": energy, "estimators": names, "samplers": samplers, "betas": betas,
              "budget": budget, "batch": int(x.shape[0]), "exact": exact_available(energy)}
    finish(ds, name="alignment", x="beta", config=config, plot=["cos_sup", "cos_target"],
           logx=True, title="gradient alignment vs β")
    ds.attrs["supervised"] = str(sup.stats.get("method", ""))
    ds.attrs["target_method"] = ", ".join(f"{k}: {v}" for k, v in methods.items())
    ds.attrs["skipped"] = ("; ".join(skipped) + " (NaN: a nudged phase has no equilibrium, "
                           "see thermoep.samplers.base.check_nudge)") if skipped else ""
    return ds


def alignment_over_training(checkpoint_paths: Sequence[str | Path], *, batch: int = 64,
                            beta: float | None = None, relaxation: Relaxation | None = None,
                            ) -> xr.Dataset:
    """Cosine of std (one-sided) and cep (centered) EP with BPTT per saved epoch (hybrid-ep B).

    Each checkpoint (``thermoep train --checkpoint-every 1 --keep-checkpoints``; files named by
    ``experiment.epoch_checkpoint``) is rebuilt from its stored config; the diagnostic batch is the
    first ``batch`` training examples (the split is seeded, so the batch is the same at every
    epoch). β defaults to the run's |β|; the relaxation to the run's (T = 0 runs) or a
    ``Relaxation(steps, step_size)`` from its config. BPTT runs the same free relaxation.
    Dims (estimator, seed, epoch): ``cos_bptt``; also ``bptt_loss`` (seed, epoch).
    """
    paths = [Path(p) for p in checkpoint_paths]
    if not paths:
        raise ValueError("alignment_over_training needs at least one checkpoint path")
    records = []
    for p in paths:
        m = load_model(p)
        if m.model.discrete:
            raise ValueError(f"{p}: BPTT needs continuous units; the run used binary units")
        b = abs(float(m.config.get("estimator.beta"))) if beta is None else abs(float(beta))
        relax = relaxation if relaxation is not None else m.relaxation
        x, y = m.data.train_x[:batch], m.data.train_y[:batch]
        ref = bptt_grad(m.model, m.cost, x, y, relax)
        std = OneSided(relax, b)(m.model, m.cost, x, y)
        cep = Centered(relax, b)(m.model, m.cost, x, y)
        records.append({"seed": m.config.run.seed, "epoch": m.epoch, "std": std.cosine(ref),
                        "cep": cep.cosine(ref), "loss": ref.loss, "beta": b,
                        "relaxation": repr(relax)})
    seeds = sorted({r["seed"] for r in records})
    epochs = sorted({r["epoch"] for r in records})
    cos = np.full((2, len(seeds), len(epochs)), math.nan)
    loss = np.full((len(seeds), len(epochs)), math.nan)
    for r in records:
        s, e = seeds.index(r["seed"]), epochs.index(r["epoch"])
        cos[0, s, e], cos[1, s, e], loss[s, e] = r["std"], r["cep"], r["loss"]
    ds = xr.Dataset({"cos_bptt": (("estimator", "seed", "epoch"), cos),
                     "bptt_loss": (("seed", "epoch"), loss)},
                    coords={"estimator": ["std", "cep"], "seed": seeds, "epoch": epochs})
    ds["cos_bptt"].attrs["long_name"] = "cos(ĝ, ∇_BPTT)"
    config = {"checkpoints": [str(p) for p in paths], "batch": batch,
              "beta": sorted({r["beta"] for r in records}),
              "relaxation": sorted({r["relaxation"] for r in records})}
    return finish(ds, name="alignment-over-training", x="epoch", config=config,
                  plot=["cos_bptt"], title="alignment of std / cep with BPTT over training")

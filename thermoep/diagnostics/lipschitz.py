"""Lipschitz constant of the relaxation map at the free fixed point as a diagnostic (seed
spectral-normalization-eqprop §2.2–§3): per input, and over the checkpoints of a training run,
as xarray Datasets. The mathematics (L = σ_max of the relaxation step's Jacobian, by power
iteration with torch.func) is in :mod:`thermoep.lipschitz`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import xarray as xr

from ..lipschitz import relaxation_lipschitz, relaxation_map
from ..samplers.relax import Relaxation
from .checkpoints import load_model
from .dataset import finish

__all__ = ["lipschitz_constant", "lipschitz_over_training", "relaxation_map"]


def lipschitz_constant(energy, cost, x, y, relaxation: Relaxation | None = None,
                       iters: int = 50, *, generator: torch.Generator | None = None
                       ) -> xr.Dataset:
    """Per-sample Lipschitz constant of the relaxation map at the free fixed point.

    Dims (sample,): ``lipschitz`` (σ_max(∂F/∂s) per input), ``residual`` (of the fixed point);
    scalars ``lipschitz_max`` and ``lipschitz_mean``. ``lipschitz_max < 1``: the relaxation
    contracts around s*_0.
    """
    relaxation = Relaxation() if relaxation is None else relaxation
    sigma, residual = relaxation_lipschitz(energy, cost, x, y, relaxation, iters,
                                           generator=generator)
    L = sigma.cpu().double().numpy()
    ds = xr.Dataset({"lipschitz": ("sample", L),
                     "residual": ("sample", residual.detach().cpu().double().numpy()),
                     "lipschitz_max": ((), float(L.max())),
                     "lipschitz_mean": ((), float(L.mean()))},
                    coords={"sample": np.arange(len(L))})
    ds["lipschitz"].attrs["long_name"] = "σ_max(∂F/∂s) at s*_0"
    config = {"energy": energy, "relaxation": relaxation, "iters": iters,
              "batch": len(L)}
    return finish(ds, name="lipschitz", x="sample", config=config, plot=["lipschitz"],
                  title=f"Lipschitz constant of the relaxation map (max {L.max():.3g})")


def lipschitz_over_training(checkpoint_paths: Sequence[str | Path], *, batch: int = 64,
                            iters: int = 50, relaxation: Relaxation | None = None
                            ) -> xr.Dataset:
    """Max and mean Lipschitz constant per saved epoch (seed spectral-normalization §3).

    Dims (seed, epoch): ``lipschitz_max``, ``lipschitz_mean``; the batch is the first ``batch``
    training examples of each run's seeded split.
    """
    paths = [Path(p) for p in checkpoint_paths]
    if not paths:
        raise ValueError("lipschitz_over_training needs at least one checkpoint path")
    records = []
    for p in paths:
        m = load_model(p)
        relax = relaxation if relaxation is not None else m.relaxation
        d = lipschitz_constant(m.model, m.cost, m.data.train_x[:batch], m.data.train_y[:batch],
                               relax, iters)
        records.append((m.config.run.seed, m.epoch, float(d["lipschitz_max"]),
                        float(d["lipschitz_mean"])))
    seeds = sorted({r[0] for r in records})
    epochs = sorted({r[1] for r in records})
    mx = np.full((len(seeds), len(epochs)), np.nan)
    mean = np.full_like(mx, np.nan)
    for seed, epoch, a, b in records:
        mx[seeds.index(seed), epochs.index(epoch)] = a
        mean[seeds.index(seed), epochs.index(epoch)] = b
    ds = xr.Dataset({"lipschitz_max": (("seed", "epoch"), mx),
                     "lipschitz_mean": (("seed", "epoch"), mean)},
                    coords={"seed": seeds, "epoch": epochs})
    config = {"checkpoints": [str(p) for p in paths], "batch": batch, "iters": iters}
    return finish(ds, name="lipschitz-over-training", x="epoch", config=config,
                  plot=["lipschitz_max", "lipschitz_mean"],
                  title="Lipschitz constant of the relaxation over training")

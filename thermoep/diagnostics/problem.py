"""The default diagnostic problem: a small network on a fixed batch of a real dataset.

``diagnose`` commands measure estimators on one model and one batch rather than over a training
run. :func:`diagnostic_problem` builds a LayeredHopfield (default 64-32-10 on the embedded digits)
through the same ``RunConfig``/``build`` path as ``thermoep train``, optionally trains it briefly
with centered EP at T = 0 (so the gradients are those of a network that has started to learn, as
in seed ep-without-limits Fig. 1, rather than of random weights), and returns the first ``batch``
training examples. :func:`make_sampler` turns a temperature into the sampler the diagnostics use:
the relaxation at T = 0, Langevin (ULA or MALA) at T > 0, Gibbs for binary units.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from .. import _checks
from ..config import RunConfig
from ..experiment import build
from ..progress import make_reporter
from ..samplers import Gibbs, Langevin, Relaxation
from ..training import fit

__all__ = ["DiagnosticProblem", "diagnostic_problem", "make_sampler"]


@dataclass
class DiagnosticProblem:
    """A model, its cost and a fixed batch ``(x, y)``; ``config`` says how it was made."""

    model: Any
    cost: Any
    x: torch.Tensor
    y: torch.Tensor
    config: dict

    def __iter__(self):  # energy, cost, x, y = problem
        return iter((self.model, self.cost, self.x, self.y))


def diagnostic_problem(*, dataset: str = "digits", hidden: tuple[int, ...] = (32,),
                       activation: str = "tanh", batch: int = 64, train_epochs: int = 2,
                       seed: int = 0, data_dir: str | None = None, dtype: str = "float32",
                       limit_train: int | None = None) -> DiagnosticProblem:
    """A (briefly trained) LayeredHopfield and the first ``batch`` training examples."""
    batch = _checks.positive_int("batch", batch)
    train_epochs = _checks.positive_int("train_epochs", train_epochs, minimum=0)
    cfg = RunConfig().with_values({
        "dataset": dataset, "data_dir": data_dir, "hidden": list(hidden),
        "activation": activation, "estimator": "centered", "sampler": "relax",
        "steps": 20, "nudged_steps": 10, "step_size": 0.5,
        "epochs": max(train_epochs, 1), "seed": seed, "device": "cpu", "dtype": dtype,
        "limit_train": limit_train}).resolved()
    data, model, cost, est, opt, sched, sampler, gen = build(cfg)
    if train_epochs > 0:
        fit(model, cost, est, opt, data, epochs=train_epochs, batch_size=cfg.run.batch_size,
            scheduler=sched, generator=gen, eval_sampler=sampler,
            reporter=make_reporter(quiet=True))
    n = data.train_x.shape[0]
    if batch > n:
        raise ValueError(f"batch must be at most the {n} training examples of {dataset}, "
                         f"got {batch}")
    config = {"dataset": dataset, "sizes": list(model.sizes), "activation": activation,
              "batch": batch, "train_epochs": train_epochs, "train_estimator": "centered",
              "seed": seed, "dtype": dtype}
    return DiagnosticProblem(model, cost, data.train_x[:batch], data.train_y[:batch], config)


def make_sampler(temperature: float, *, binary: bool = False, metropolis: bool = False,
                 steps: int = 200, burn_in: int = 50, chains: int = 16,
                 step_size: float | None = None, relax_steps: int = 100,
                 coupled: bool = False):
    """Relaxation at T = 0; Gibbs (binary) or Langevin/MALA at T > 0."""
    T = _checks.positive_float("temperature", temperature, allow_zero=True)
    if T == 0.0:
        if binary:
            raise ValueError("binary units need temperature > 0 (Gibbs sampling), got 0")
        return Relaxation(steps=relax_steps, step_size=0.5 if step_size is None else step_size)
    if binary:
        return Gibbs(sweeps=steps, burn_in=burn_in, temperature=T, chains=chains,
                     coupled=coupled)
    return Langevin(step_size=0.2 if step_size is None else step_size, steps=steps,
                    burn_in=burn_in, temperature=T, metropolis=metropolis, chains=chains,
                    coupled=coupled)

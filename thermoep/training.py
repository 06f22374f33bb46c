"""The training loop: a function over (model, cost, estimator, optimizer, data).

Per mini-batch: the estimator runs the free phase and its nudged phases and returns ∇θL_β as a
:class:`~thermoep.Gradient`; ``g.apply_(model, cost)`` writes ``p.grad`` (the cost's too, for a
read-out with parameters); the optimizer steps. Training accuracy and loss come from the free
phase of each batch (before its update), and so does the objective J_β = F_β − F_0 of the
estimators that estimate it (``stats["objective"]``: the path integral, finite nudge with
``objective_nodes``), recorded as ``objective`` and ``objective_se``. Evaluation predicts from
the free phase alone: the settled output at T = 0, the chain-averaged output at T > 0.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from contextlib import nullcontext

import torch
from torch import Tensor

from . import _checks
from .averaging import WeightAverage
from .energies.dropout import UnitDropout
from .objectives.base import Estimator
from .progress import Reporter

#: a free-phase loss this many times its first value means the run has diverged
EXPLOSION = 1e3


class TrainingDiverged(RuntimeError):
    """Raised when a loss or gradient becomes non-finite or the loss explodes; says where, and
    carries the metrics of the epochs finished before (``history``)."""

    def __init__(self, epoch: int, batch: int, what: str, history=None) -> None:
        super().__init__(f"training diverged at epoch {epoch}, batch {batch}: {what}; lower "
                         "the learning rate or beta")
        self.epoch, self.batch = epoch, batch
        self.history = list(history or [])


def evaluate(model, cost, sampler, x: Tensor, y: Tensor, *, batch_size: int = 500,
             generator: torch.Generator | None = None) -> tuple[float, float]:
    """(accuracy, mean cost) of free-phase predictions (argmax of the cost's read-out of
    E_0[s_L]: s_L itself, or the softmax read-out's logits)."""
    correct, total_cost, n = 0, 0.0, x.shape[0]
    dev, dt = model.device, model.dtype
    with torch.no_grad():
        for i in range(0, n, batch_size):
            xb = x[i:i + batch_size].to(device=dev, dtype=dt)
            yb = y[i:i + batch_size].to(dev)
            yt = cost.target(yb, model.layer_sizes[model.output], dtype=dt, device=dev)
            phase = sampler.run(model, cost, xb, yt, 0.0, generator=generator)
            correct += int((cost.predict(phase.output).argmax(-1) == yb).sum())
            total_cost += float(cost.value(phase.output, yt).sum()) if sampler.deterministic \
                else float(phase.cost.sum())
    return correct / n, total_cost / n


def _free_metric(info: dict, key: str) -> float:
    return float(info.get(f"free_{key}", math.nan))


def _epoch_objective(rows: list[tuple[int, float, float]]) -> dict[str, float]:
    """The epoch's J_β (the batches' estimates weighted by batch size, like the loss) and its
    standard error (the batches' phases are independent: errors add in quadrature)."""
    n = sum(k for k, _, _ in rows)
    value = sum(k * v for k, v, _ in rows) / n
    se = math.sqrt(sum((k * e) ** 2 for k, _, e in rows)) / n
    return {"objective": value, "objective_se": se}


def _warm_step(optimizer: torch.optim.Optimizer, factor: float) -> None:
    """One optimizer step with every group's learning rate scaled by ``factor``."""
    saved = [group["lr"] for group in optimizer.param_groups]
    for group in optimizer.param_groups:
        group["lr"] = group["lr"] * factor
    try:
        optimizer.step()
    finally:
        for group, lr in zip(optimizer.param_groups, saved, strict=True):
            group["lr"] = lr


def fit(model, cost, estimator: Estimator, optimizer: torch.optim.Optimizer, data, *,
        epochs: int, batch_size: int, scheduler=None, generator: torch.Generator,
        eval_sampler=None, history: list[dict] | None = None, start_epoch: int = 0,
        reporter: Reporter | None = None,
        on_epoch_end: Callable[[int, list[dict]], None] | None = None,
        extra_metrics: Callable[[], dict] | None = None,
        warmup_batches: int = 0,
        augment: Callable[[Tensor, torch.Generator], Tensor] | None = None,
        dropout: UnitDropout | None = None,
        average: WeightAverage | None = None) -> list[dict]:
    """Train for epochs ``start_epoch+1 .. epochs``; returns one metrics dict per epoch.

    ``data`` has ``train_x, train_y, test_x, test_y`` tensors. The batch order comes from
    ``generator`` (as does every sampler's randomness), so a run resumed from a checkpoint with
    the saved generator state repeats the uninterrupted run exactly. ``on_epoch_end(epoch,
    history)`` is called after each epoch (checkpointing); ``scheduler.step()`` once per epoch.
    ``warmup_batches``: the k-th of the first ``warmup_batches`` updates uses the learning rate
    times k / warmup_batches (linear warm-up on top of the epoch schedule).
    ``augment(x, generator)``: applied to each training mini-batch (`thermoep.data.Augment`).
    ``dropout``: hidden units dropped per sample for each batch's phases (evaluation uses the
    whole network); the reported training accuracy is that of the thinned networks.
    ``average``: updated after every optimizer step; the test metrics are then those of the
    averaged weights, and ``test_accuracy_online`` / ``test_loss_online`` those of the weights
    being trained.
    """
    history = [] if history is None else list(history)
    reporter = reporter or Reporter()
    eval_sampler = eval_sampler or estimator.sampler
    n = data.train_x.shape[0]
    batches = math.ceil(n / batch_size)
    nudged = int(history[-1]["nudged_phases"]) if history else 0
    wall = float(history[-1]["wall_seconds"]) if history else 0.0
    dev, dt = model.device, model.dtype
    first_loss = float(history[0]["train_loss"]) if history else None
    reporter.start(epochs, batches, start_epoch + 1)
    try:
        for epoch in range(start_epoch + 1, epochs + 1):
            t0 = time.perf_counter()
            if hasattr(estimator, "set_epoch"):
                estimator.set_epoch(epoch - 1, epochs)
            order = torch.randperm(n, generator=generator)
            correct, loss_sum, resid, accept = 0, 0.0, [], []
            objective = []  # (batch size, J_β, its standard error) of the batches that have it
            for b in range(batches):
                idx = order[b * batch_size:(b + 1) * batch_size]
                xb = data.train_x[idx].to(device=dev, dtype=dt)
                yb = data.train_y[idx].to(dev)
                if augment is not None:
                    xb = augment(xb, generator)
                scales = None if dropout is None else dropout.sample(model, len(idx), generator)
                with model.scaled_units(scales):
                    g = estimator(model, cost, xb, yb, generator=generator)
                if not math.isfinite(g.loss):
                    raise TrainingDiverged(epoch, b, "the free-phase loss is not finite",
                                           history)
                if first_loss is None:
                    first_loss = g.loss
                elif g.loss > EXPLOSION * max(first_loss, 1e-6):
                    raise TrainingDiverged(
                        epoch, b, f"the free-phase loss {g.loss:.3g} is more than "
                        f"{EXPLOSION:g} times its first value {first_loss:.3g}", history)
                if not _checks.all_finite(g.values()):
                    name = next(k for k, v in g.items() if not torch.isfinite(v).all())
                    raise TrainingDiverged(epoch, b, f"the gradient of {name} is not finite",
                                           history)
                g.apply_(model, cost)
                step = (epoch - 1) * batches + b
                if step < warmup_batches:
                    _warm_step(optimizer, (step + 1) / warmup_batches)
                else:
                    optimizer.step()
                if average is not None:
                    average.update()
                nudged += g.nudged_phases
                with torch.no_grad():
                    batch_correct = int((cost.predict(g.output).argmax(-1) == yb).sum())
                correct += batch_correct
                loss_sum += g.loss * len(idx)
                resid.append(_free_metric(g.stats, "residual"))
                accept.append(_free_metric(g.stats, "acceptance"))
                if "objective" in g.stats:
                    objective.append((len(idx), float(g.stats["objective"]),
                                      float(g.stats.get("objective_se", math.nan))))
                reporter.batch(epoch, b, g.loss, batch_correct / len(idx))
            train_seconds = time.perf_counter() - t0
            lr = float(optimizer.param_groups[0]["lr"])
            if scheduler is not None:
                scheduler.step()
            online = None if average is None else evaluate(
                model, cost, eval_sampler, data.test_x, data.test_y, generator=generator)
            with nullcontext() if average is None else average.swapped():
                test_acc, test_loss = evaluate(model, cost, eval_sampler, data.test_x,
                                               data.test_y, generator=generator)
            wall += time.perf_counter() - t0
            metrics = {
                "train_accuracy": correct / n,
                "train_loss": loss_sum / n,
                "test_accuracy": test_acc,
                "test_loss": test_loss,
                "nudged_phases": float(nudged),
                "wall_seconds": wall,
                "train_seconds": train_seconds,
                "residual": float(torch.tensor(resid).nanmean()),
                "acceptance": float(torch.tensor(accept).nanmean()),
                "lr": lr,
                "beta": float(estimator.beta),
            }
            if online is not None:
                metrics["test_accuracy_online"], metrics["test_loss_online"] = online
            if objective:
                metrics.update(_epoch_objective(objective))
            if hasattr(estimator, "epoch_record"):
                metrics.update(estimator.epoch_record())
            if extra_metrics is not None:
                metrics.update(extra_metrics())
            history.append(metrics)
            reporter.epoch(epoch, metrics)
            if on_epoch_end is not None:
                on_epoch_end(epoch, history)
    finally:
        reporter.close()
    return history

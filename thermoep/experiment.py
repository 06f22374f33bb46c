"""Build a run from its :class:`~thermoep.config.RunConfig` and carry it out.

``build`` turns a resolved config into live objects through the registries; ``run`` trains,
checkpoints and writes the results file (attrs: the full config and the package version). The
command line only parses arguments into a config and calls ``run``.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import NamedTuple

import torch

from . import checkpoints, compilation, results
from .averaging import WeightAverage
from .config import RunConfig
from .costs import trainables
from .data import load_dataset
from .data.augment import Augment
from .energies import UnitDropout
from .progress import make_reporter
from .training import fit

DTYPES = {"float32": torch.float32, "float64": torch.float64}


class Built(NamedTuple):
    """The live objects of a run."""

    data: object
    model: torch.nn.Module
    cost: object
    estimator: object
    optimizer: torch.optim.Optimizer
    scheduler: object
    eval_sampler: object
    generator: torch.Generator


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} requested but CUDA is not available")
    return torch.device(name)


def _available_bytes() -> int | None:
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_size(cfg: RunConfig, inputs, classes: int, dtype: torch.dtype) -> None:
    """Refuse a model whose parameters alone need more memory than the machine has: built on
    the meta device first (no memory), so ``hidden = 10⁹`` says how much it needs instead of
    failing inside the allocator."""
    with torch.device("meta"):
        energy, cost = cfg.make_model(inputs, classes)
    numel = sum(p.numel() for p in trainables(energy, cost).values())
    need = numel * torch.empty((), dtype=dtype).element_size()
    have = _available_bytes()
    if have is not None and need > have:
        raise ValueError(
            f"the model {cfg.model.name!r} with {dict(cfg.model.params)} has {numel:,} "
            f"parameters, which need {need / 2**30:.1f} GiB in {cfg.run.dtype} (before the "
            f"optimiser's state and the states of the phases); this machine has "
            f"{have / 2**30:.1f} GiB")


def layer_groups(model, params: dict[str, torch.nn.Parameter],
                 layer_lrs: tuple[float, ...] | None) -> list:
    """Optimizer parameter groups: all parameters in one group (``layer_lrs`` None), else one
    group per free layer, in order from the input, holding the parameters of the terms whose
    deepest layer it is (the weight matrix feeding it and its biases, for a layered network),
    then the read-out's parameters (``readout.*``), each with its own learning rate (the
    per-layer rates of Laborieux et al. 2021)."""
    if layer_lrs is None:
        return list(params.values())
    by_layer: dict[int, list[str]] = {}
    for key, _term, names in model.terms():
        deepest = max(model.free_index(n) for n in names
                      if not model.all_layers[model._index[n]].clamped)
        by_layer.setdefault(deepest, []).append(key)
    names = [[k for k in params if k.split(".")[0] in keys]
             for _, keys in sorted(by_layer.items())]
    names = [group for group in names if group]
    readout = [k for k in params if k.startswith("readout.")]
    if readout:
        names.append(readout)
    if len(layer_lrs) != len(names):
        raise ValueError(
            f"layer_lrs needs {len(names)} learning rates (one per layer with parameters"
            f"{' and the read-out' if readout else ''}), got {len(layer_lrs)}: "
            f"{list(layer_lrs)}")
    groups = [{"params": [params[k] for k in group], "lr": lr}
              for group, lr in zip(names, layer_lrs, strict=True)]
    covered = {id(p) for g in groups for p in g["params"]}
    missing = [k for k, p in params.items() if id(p) not in covered]
    if missing:
        raise ValueError(f"layer_lrs: no layer holds the parameters {missing}")
    return groups


def make_optimizer(cfg: RunConfig, model, cost):
    """(optimizer, scheduler) of the ``optim`` section."""
    o = cfg.optim
    params = layer_groups(model, trainables(model, cost), o.layer_lrs)
    if o.name == "sgd":
        opt = torch.optim.SGD(params, lr=o.lr, momentum=o.momentum, weight_decay=o.weight_decay)
    else:
        opt = torch.optim.Adam(params, lr=o.lr, weight_decay=o.weight_decay)
    # cosine to 1 % of the (smallest) starting rate; one floor for every group
    floor = 1e-2 * min(group["lr"] for group in opt.param_groups)
    sched = (torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.run.epochs,
                                                        eta_min=floor)
             if o.schedule == "cosine" else None)
    return opt, sched


def build(cfg: RunConfig) -> Built:
    """Live objects for a config (resolved first)."""
    cfg = cfg.resolved()
    if cfg.run.compile:
        compilation.enable()
    device, dtype = resolve_device(cfg.run.device), DTYPES[cfg.run.dtype]
    d = cfg.data
    data = load_dataset(d.name, d.data_dir, seed=cfg.run.seed, limit_train=d.limit_train,
                        limit_test=d.limit_test, standardize=d.standardize)
    torch.manual_seed(cfg.run.seed)
    old = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        check_size(cfg, data.image_shape, data.num_classes, dtype)
        model, cost = cfg.make_model(data.image_shape, data.num_classes)
    finally:
        torch.set_default_dtype(old)
    model = model.to(device)
    if isinstance(cost, torch.nn.Module):
        cost = cost.to(device)
    estimator = cfg.make_estimator()
    estimator.check(model, cost)
    if cfg.run.lipschitz and model.discrete:
        raise ValueError("run.lipschitz differentiates the relaxation map, which needs "
                         "continuous units")
    opt, sched = make_optimizer(cfg, model, cost)
    gen = torch.Generator(device="cpu" if device.type == "cpu" else device)
    gen.manual_seed(cfg.run.seed)
    evaluation = cfg.make_eval_sampler()
    if evaluation is None:
        evaluation = estimator.sampler
    return Built(data, model, cost, estimator, opt, sched, evaluation, gen)


def augment_for(cfg: RunConfig, data) -> Augment | None:
    """The training-time augmentation a config asks for (None when it asks for none)."""
    if not (cfg.data.hflip or cfg.data.translate):
        return None
    return Augment.for_data(data.train_x, data.image_shape, hflip=cfg.data.hflip,
                            translate=cfg.data.translate)


def epoch_checkpoint(checkpoint: str | Path, epoch: int) -> Path:
    """Path of the per-epoch copy kept with ``keep_checkpoints``: ``<stem>.epoch0003.ckpt``."""
    p = Path(checkpoint)
    return p.with_name(f"{p.stem}.epoch{epoch:04d}{p.suffix}")


def config_difference(stored: dict, cfg: RunConfig) -> list[str]:
    """The settings (dotted keys) where a stored config differs from ``cfg``."""
    try:
        other = RunConfig.from_dict(stored).resolved().flat()
    except (TypeError, ValueError) as exc:
        return [f"(the stored config cannot be read: {exc})"]
    here = cfg.flat()
    return [f"{k}={other.get(k)!r} there, {here.get(k)!r} here"
            for k in sorted(set(other) | set(here)) if other.get(k) != here.get(k)]


def _lipschitz_metric(cfg: RunConfig, data, model, cost):
    """Per-epoch Lipschitz constant of the relaxation map at the free fixed point, on 64 fixed
    test inputs (seed spectral-normalization-eqprop §2.2), with the run's relaxation or a
    default one for a Monte-Carlo run."""
    from .lipschitz import relaxation_lipschitz
    from .samplers import Relaxation

    sampler = cfg.make_sampler()
    probe = sampler if getattr(sampler, "deterministic", False) else Relaxation()
    xl = data.test_x[:64].to(model.device, model.dtype)
    yl = data.test_y[:64].to(model.device)

    def metric():
        sigma, _ = relaxation_lipschitz(model, cost, xl, yl, probe, iters=30)
        return {"lipschitz": float(sigma.max())}

    return metric


def run(cfg: RunConfig, *, out: str | Path | None = None, checkpoint: str | Path | None = None,
        checkpoint_every: int = 0, keep_checkpoints: bool = False, resume: bool = False,
        quiet: bool = False):
    """Train as configured; write results to ``out`` (atomically) and return the Dataset.

    Every ``checkpoint_every`` epochs the checkpoint (default ``<out>.ckpt``) is rewritten; with
    ``keep_checkpoints`` a per-epoch copy is kept too (for alignment-over-training diagnostics).
    ``resume`` continues from the checkpoint (default ``<out>.ckpt``), which must have been
    written by the same config. A run whose loss diverges still writes the epochs it finished,
    with ``attrs["diverged"]`` saying where, then raises
    :class:`~thermoep.training.TrainingDiverged`.
    """
    from .training import TrainingDiverged

    cfg = cfg.resolved()
    if out is not None:
        out = results.check_writable(out)
    if (checkpoint_every or resume) and checkpoint is None and out is not None:
        checkpoint = Path(out).with_suffix(".ckpt")
    state = None
    if resume:
        if checkpoint is None:
            raise ValueError("resume needs a checkpoint: give checkpoint= or out= (the "
                             "checkpoint beside it, <out>.ckpt)")
        if not Path(checkpoint).is_file():
            raise ValueError(f"resume: no checkpoint found at {checkpoint}")
        state = checkpoints.load(checkpoint)  # before the data: a bad file fails fast
        diff = config_difference(state["config"], cfg)
        if diff:
            raise ValueError(f"checkpoint {checkpoint} ({checkpoints.written_by(state)}) was "
                             f"written by a different config: {'; '.join(diff)}")
    data, model, cost, est, opt, sched, sampler, gen = build(cfg)
    o = cfg.optim
    average = WeightAverage(model, cost, decay=o.ema_decay) if o.ema_decay else None
    start, history = 0, []
    if state is not None:
        start, history = checkpoints.restore(state, model=model, optimizer=opt, scheduler=sched,
                                             generator=gen, estimator=est, cost=cost,
                                             average=average)

    def on_epoch_end(epoch: int, hist: list[dict]) -> None:
        if checkpoint is not None and checkpoint_every and (
                epoch % checkpoint_every == 0 or epoch == cfg.run.epochs):
            kw = dict(epoch=epoch, model=model, optimizer=opt, scheduler=sched, generator=gen,
                      history=hist, config=cfg.to_dict(), estimator=est, cost=cost,
                      average=average)
            checkpoints.save(checkpoint, **kw)
            if keep_checkpoints:
                checkpoints.save(epoch_checkpoint(checkpoint, epoch), **kw)

    extra = _lipschitz_metric(cfg, data, model, cost) if cfg.run.lipschitz else None
    batches = math.ceil(data.train_x.shape[0] / cfg.run.batch_size)
    diverged = None
    try:
        history = fit(model, cost, est, opt, data, epochs=cfg.run.epochs,
                      batch_size=cfg.run.batch_size, scheduler=sched, generator=gen,
                      eval_sampler=sampler, history=history, start_epoch=start,
                      reporter=make_reporter(quiet), on_epoch_end=on_epoch_end,
                      extra_metrics=extra, augment=augment_for(cfg, data),
                      dropout=UnitDropout(cfg.model.dropout) if cfg.model.dropout else None,
                      average=average, warmup_batches=round(o.warmup_epochs * batches))
    except TrainingDiverged as exc:
        diverged, history = exc, exc.history
    config = cfg.to_dict()
    config["sizes"] = list(model.layer_sizes)
    config["data_source"] = data.source
    ds = results.run_dataset(history, config, name=f"{cfg.data.name}-{cfg.estimator.name}",
                             attrs=cfg.summary())
    if diverged is not None:
        ds.attrs["diverged"] = str(diverged)
    if out is not None and (len(history) or diverged is None):
        results.write(ds, out)
    if diverged is not None:
        raise diverged
    return ds


def seconds_per_epoch(ds) -> float:
    """Mean wall-clock seconds per epoch (training and evaluation)."""
    w = ds["wall_seconds"].values
    return float(w[-1] / len(w)) if len(w) else math.nan


__all__ = ["Built", "augment_for", "build", "check_size", "config_difference",
           "epoch_checkpoint", "layer_groups", "make_optimizer", "resolve_device", "run",
           "seconds_per_epoch"]

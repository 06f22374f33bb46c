"""One typed configuration for a training run, and the function that carries it out.

``TrainConfig`` holds every hyper-parameter (frozen, keyword-only; unknown or invalid options raise
with the accepted values). ``build`` turns it into live objects through the registries
(ESTIMATORS, SAMPLERS, ...); ``run`` trains, checkpoints and writes the results file. The CLI only
parses arguments into a ``TrainConfig`` and calls ``run``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path

import torch

from . import _checks, checkpoints, results
from .averaging import WeightAverage
from .costs import COSTS, trainables
from .data import DATASETS, load_dataset
from .data.augment import Augment
from .data.dataset import standardize_mode
from .energies import LayeredBoltzmann, LayeredHopfield, PrototypicalHopfield, UnitDropout
from .energies.hopfield import ACTIVATIONS
from .objectives import ESTIMATORS
from .progress import make_reporter
from .samplers import Gibbs, Langevin, Relaxation
from .schedules import BETA_SCHEDULES
from .training import fit

CONTINUOUS_ENERGIES = {"hopfield": LayeredHopfield, "prototypical": PrototypicalHopfield}
STOCHASTIC_ESTIMATORS = ("finite-nudge", "path-integral")
CLAMPING_ESTIMATORS = ("contrastive", "p-cpl", "n-cpl", "c-cpl")
SAMPLER_NAMES = ("relax", "langevin", "mala", "gibbs")
OPTIMIZERS = ("sgd", "adam")
SCHEDULES = ("cosine", "constant")
DTYPES = {"float32": torch.float32, "float64": torch.float64}


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    """Every setting of a run. ``None`` means "the default for this estimator/sampler"."""

    dataset: str = "digits"
    data_dir: str | None = None
    limit_train: int | None = None
    limit_test: int | None = None
    standardize: bool | str = False  # True / "feature", or "global" (one mean and std)
    hflip: bool = False  # training augmentation: random left-right mirror per sample
    translate: int = 0  # training augmentation: random shift by up to this many pixels
    hidden: tuple[int, ...] = (256,)
    sizes: tuple[int, ...] | None = None
    activation: str = "tanh"
    energy: str = "hopfield"
    binary: bool = False
    cost: str = "squared-error"
    dropout: float = 0.0  # probability of dropping a hidden unit per sample and batch
    estimator: str = "centered"
    beta: float | None = None
    beta_schedule: str = "fixed"
    beta_start: float | None = None
    beta_end: float | None = None
    nodes: int = 4
    temperature: float | None = None
    sampler: str | None = None
    steps: int | None = None
    nudged_steps: int | None = None
    burn_in: int | None = None
    chains: int | None = None
    step_size: float | None = None
    tol: float = 0.0  # relax: stop a phase once every sample's residual is below tol
    coupled: bool = False
    rao_blackwell: bool = False  # ULA: average each sample over its step's Gaussian noise
    conditional: bool = False  # MC: average the other-parity layers given their neighbours
    lipschitz: bool = False
    epochs: int | None = None
    batch_size: int = 32
    optimizer: str = "adam"
    lr: float = 2e-3
    layer_lrs: tuple[float, ...] | None = None  # one per weight matrix (+ read-out); overrides lr
    momentum: float = 0.9
    weight_decay: float = 0.0
    schedule: str = "cosine"
    warmup_epochs: float = 0.0  # linear learning-rate warm-up over this many epochs
    ema_decay: float = 0.0  # evaluate an exponential moving average of the weights (0 = off)
    seed: int = 0
    device: str = "auto"
    dtype: str = "float32"
    extra: dict = field(default_factory=dict)

    # -- defaults that depend on other settings -------------------------------------------------
    def resolved(self) -> TrainConfig:
        """Fill every ``None`` with its documented default and validate everything."""
        est = self.estimator
        if est not in ESTIMATORS:
            raise ValueError(f"unknown estimator {est!r}; choose one of {sorted(ESTIMATORS)}")
        stochastic = est in STOCHASTIC_ESTIMATORS or (self.temperature or 0) > 0
        sampler = self.sampler or (("gibbs" if self.binary else "langevin") if stochastic
                                   else "relax")
        if sampler not in SAMPLER_NAMES:
            raise ValueError(f"unknown sampler {sampler!r}; choose one of {list(SAMPLER_NAMES)}")
        if est == "backprop" and sampler != "relax":
            raise ValueError("the backprop baseline needs --sampler relax")
        temperature = self.temperature
        if temperature is None:
            temperature = 0.0 if sampler == "relax" else (1.0 if sampler == "gibbs" else 0.01)
        temperature = _checks.positive_float("temperature", temperature, allow_zero=True)
        if sampler == "relax" and temperature > 0:
            raise ValueError(f"--sampler relax is the T = 0 relaxation; got temperature="
                             f"{temperature} (use langevin, mala or gibbs for T > 0)")
        if sampler != "relax" and temperature == 0:
            raise ValueError(f"sampler {sampler!r} needs temperature > 0, got 0 (use relax)")
        if self.lipschitz and self.binary:
            raise ValueError("--lipschitz needs continuous units (it differentiates the "
                             "relaxation map)")
        if self.coupled and sampler == "relax":
            raise ValueError("--coupled (common random numbers) needs a Monte-Carlo sampler")
        if self.rao_blackwell and sampler != "langevin":
            raise ValueError(f"--rao-blackwell needs the unadjusted Langevin sampler (ULA, "
                             f"--sampler langevin), got {sampler!r}")
        if self.conditional:
            if sampler == "relax":
                raise ValueError("--conditional (Rao–Blackwellisation over the units given their "
                                 "neighbours) needs a Monte-Carlo sampler")
            if self.rao_blackwell:
                raise ValueError("choose one of --rao-blackwell and --conditional")
            if not self.binary and (self.activation != "tanh" or self.energy != "hopfield"):
                raise ValueError("--conditional needs binary units or the hopfield energy with "
                                 f"tanh units (got {self.energy}/{self.activation})")
        if self.cost == "softmax-readout":
            if sampler != "relax":
                raise ValueError("--cost softmax-readout trains its read-out with the T = 0 "
                                 f"relaxation only (got sampler {sampler!r})")
            if est in CLAMPING_ESTIMATORS:
                raise ValueError(f"{est!r} clamps the output layer to the target; with "
                                 "--cost softmax-readout there is no output layer to clamp")
            if self.binary:
                raise ValueError("--cost softmax-readout needs continuous units")
        if self.energy not in CONTINUOUS_ENERGIES:
            raise ValueError(f"unknown energy {self.energy!r}; choose one of "
                             f"{sorted(CONTINUOUS_ENERGIES)} (or --binary)")
        if self.energy != "hopfield" and self.binary:
            raise ValueError(f"--binary is the Boltzmann energy; it cannot be combined with "
                             f"energy {self.energy!r}")
        if self.energy == "prototypical" and sampler in ("langevin", "mala"):
            raise ValueError("the prototypical energy lives in a box (a barrier at its edges for "
                             "tanh / sigmoid4) and cannot be sampled by Langevin; use --energy "
                             "hopfield for T > 0")
        if self.binary and sampler not in ("gibbs",):
            raise ValueError(f"binary units need --sampler gibbs, got {sampler!r}")
        if not self.binary and sampler == "gibbs" and (self.activation != "tanh"
                                                       or self.energy != "hopfield"):
            raise ValueError("--sampler gibbs needs binary units (--binary) or the hopfield "
                             f"energy with tanh units (got {self.energy}/{self.activation})")
        beta = self.beta if self.beta is not None else (1.0 if est in STOCHASTIC_ESTIMATORS
                                                        else 0.2)
        beta = _checks.finite_float("beta", beta)
        if beta == 0.0 and est != "backprop":
            raise ValueError(f"beta must be non-zero for the {est!r} estimator (L_β = J_β/β), "
                             "got 0")
        if self.beta_schedule not in BETA_SCHEDULES:
            raise ValueError(f"unknown beta schedule {self.beta_schedule!r}; choose one of "
                             f"{sorted(BETA_SCHEDULES)}")
        if self.beta_schedule == "linear" and self.beta_end is None:
            raise ValueError("--beta-schedule linear needs --beta-end (β of the last epoch)")
        mc = sampler != "relax"
        steps = self.steps or (30 if mc else 20)
        epochs = self.epochs or (30 if not mc else 15 if est == "path-integral" else 25)
        burn_in = self.burn_in if self.burn_in is not None else (steps // 3 if mc else 0)
        chains = self.chains or (4 if mc else 1)
        # relax: 1.0 is exact block minimisation for the prototypical energy; 0.5 contracts for
        # every Hopfield activation
        step_size = self.step_size or (0.4 if sampler in ("langevin", "mala") else
                                       1.0 if self.energy == "prototypical" else 0.5)
        for what, value, choices in (("dataset", self.dataset, DATASETS),
                                     ("activation", self.activation, ACTIVATIONS),
                                     ("cost", self.cost, COSTS),
                                     ("optimizer", self.optimizer, OPTIMIZERS),
                                     ("schedule", self.schedule, SCHEDULES)):
            if value not in choices:
                raise ValueError(f"unknown {what} {value!r}; choose one of {sorted(choices)}")
        standardize_mode(self.standardize)  # raises on a bad value
        _checks.positive_int("translate", self.translate, minimum=0)
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if not 0.0 <= _checks.finite_float("ema_decay", self.ema_decay) < 1.0:
            raise ValueError(f"ema_decay must be in [0, 1) (0 = no weight average), got "
                             f"{self.ema_decay}")
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {list(DTYPES)}, got {self.dtype!r}")
        if self.device not in ("auto", "cpu", "cuda") and not self.device.startswith("cuda:"):
            raise ValueError(f"device must be auto, cpu or cuda[:N], got {self.device!r}")
        _checks.positive_int("epochs", epochs)
        _checks.positive_int("batch_size", self.batch_size)
        for h in self.hidden:
            _checks.positive_int("hidden layer size", h)
        hidden = self.hidden
        if self.sizes is not None:  # the full layer list, checked against the data in build()
            hidden = _checks.layer_sizes(list(self.sizes))[1:-1]
        _checks.positive_float("lr", self.lr)
        for v in self.layer_lrs or ():
            _checks.positive_float("layer learning rate", v)
        _checks.positive_float("warmup_epochs", self.warmup_epochs, allow_zero=True)
        _checks.positive_float("tol", self.tol, allow_zero=True)
        if self.tol > 0 and sampler != "relax":
            raise ValueError(f"--tol stops a deterministic relaxation early; sampler {sampler!r} "
                             "runs its fixed number of steps")
        _checks.positive_float("weight_decay", self.weight_decay, allow_zero=True)
        return dataclasses.replace(
            self, sampler=sampler, temperature=temperature, beta=beta, steps=steps, epochs=epochs,
            hidden=tuple(hidden),
            burn_in=burn_in, chains=chains, step_size=step_size,
            nudged_steps=self.nudged_steps or (steps if mc else max(steps // 2, 1)),
        )

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["hidden"] = list(self.hidden)
        d["sizes"] = None if self.sizes is None else list(self.sizes)
        d["layer_lrs"] = None if self.layer_lrs is None else list(self.layer_lrs)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown config keys {sorted(unknown)}; known: {sorted(known)}")
        d = dict(d)
        for key in ("hidden", "sizes", "layer_lrs"):
            if d.get(key) is not None:
                d[key] = tuple(d[key])
        return cls(**d)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} requested but CUDA is not available")
    return torch.device(name)


def make_sampler(cfg: TrainConfig):
    if cfg.sampler == "relax":
        return Relaxation(steps=cfg.steps, nudged_steps=cfg.nudged_steps,
                          step_size=cfg.step_size, tol=cfg.tol)
    if cfg.sampler in ("langevin", "mala"):
        return Langevin(step_size=cfg.step_size, steps=cfg.steps, burn_in=cfg.burn_in,
                        temperature=cfg.temperature, metropolis=cfg.sampler == "mala",
                        chains=cfg.chains, coupled=cfg.coupled)
    return Gibbs(sweeps=cfg.steps, burn_in=cfg.burn_in, temperature=cfg.temperature,
                 chains=cfg.chains, coupled=cfg.coupled)


def make_estimator(cfg: TrainConfig, sampler):
    cls = ESTIMATORS[cfg.estimator]
    rb = "step" if cfg.rao_blackwell else "conditional" if cfg.conditional else None
    if cfg.estimator == "path-integral":
        est = cls(sampler, cfg.beta, nodes=cfg.nodes, rao_blackwell=rb)
    elif cfg.estimator == "backprop":
        return cls(sampler)
    elif rb is not None:
        est = cls(sampler, cfg.beta, rao_blackwell=rb)
    else:
        est = cls(sampler, cfg.beta)
    est.seed(cfg.seed)
    if cfg.beta_schedule == "linear":
        start = cfg.beta if cfg.beta_start is None else cfg.beta_start
        est.beta_schedule = BETA_SCHEDULES["linear"](start, cfg.beta_end)
    elif cfg.beta_schedule == "random-sign":
        est.beta_schedule = BETA_SCHEDULES["random-sign"](cfg.beta)
    return est


def build(cfg: TrainConfig):
    """Live objects for a resolved config: (data, model, cost, estimator, optimizer, scheduler,
    eval_sampler, generator)."""
    device, dtype = resolve_device(cfg.device), DTYPES[cfg.dtype]
    data = load_dataset(cfg.dataset, cfg.data_dir, seed=cfg.seed, limit_train=cfg.limit_train,
                        limit_test=cfg.limit_test, standardize=cfg.standardize)
    sizes = [data.input_size, *cfg.hidden, data.num_classes]
    readout = cfg.cost == "softmax-readout"
    if readout and not cfg.hidden:
        raise ValueError("--cost softmax-readout reads the last hidden layer: give at least one "
                         "hidden layer")
    if cfg.sizes is not None and (cfg.sizes[0], cfg.sizes[-1]) != (sizes[0], sizes[-1]):
        raise ValueError(
            f"layer sizes {list(cfg.sizes)} do not match the data: {cfg.dataset} has "
            f"{data.input_size} inputs and {data.num_classes} classes, so sizes must be "
            f"[{data.input_size}, ..., {data.num_classes}]"
        )

    torch.manual_seed(cfg.seed)
    old = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        model = (LayeredBoltzmann(sizes) if cfg.binary
                 else CONTINUOUS_ENERGIES[cfg.energy](sizes[:-1] if readout else sizes,
                                                      cfg.activation))
        # the read-out is the last layer of ``sizes``, outside the energy
        cost = COSTS[cfg.cost](sizes[-2], sizes[-1]) if readout else COSTS[cfg.cost]()
    finally:
        torch.set_default_dtype(old)
    model = model.to(device)
    cost = cost.to(device) if readout else cost
    sampler = make_sampler(cfg)
    estimator = make_estimator(cfg, sampler)
    params = layer_groups(model, trainables(model, cost), cfg.layer_lrs)
    if cfg.optimizer == "sgd":
        opt = torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum,
                              weight_decay=cfg.weight_decay)
    else:
        opt = torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    # cosine to 1 % of the (smallest) starting rate; one floor for every group
    floor = 1e-2 * min(group["lr"] for group in opt.param_groups)
    sched = (torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.epochs, eta_min=floor)
             if cfg.schedule == "cosine" else None)
    gen = torch.Generator(device="cpu").manual_seed(cfg.seed)
    if device.type != "cpu":
        gen = torch.Generator(device=device).manual_seed(cfg.seed)
    return data, model, cost, estimator, opt, sched, sampler, gen


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
        deepest = max(model.free_index(n) for n in names if not
                      model.all_layers[model._index[n]].clamped)
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


def augment_for(cfg: TrainConfig, data) -> Augment | None:
    """The training-time augmentation a config asks for (None when it asks for none)."""
    if not (cfg.hflip or cfg.translate):
        return None
    return Augment.for_data(data.train_x, data.image_shape, hflip=cfg.hflip,
                            translate=cfg.translate)


def epoch_checkpoint(checkpoint: str | Path, epoch: int) -> Path:
    """Path of the per-epoch copy kept with ``keep_checkpoints``: ``<stem>.epoch0003.ckpt``."""
    p = Path(checkpoint)
    return p.with_name(f"{p.stem}.epoch{epoch:04d}{p.suffix}")


def run(cfg: TrainConfig, *, out: str | Path | None = None, checkpoint: str | Path | None = None,
        checkpoint_every: int = 0, keep_checkpoints: bool = False, resume: bool = False,
        quiet: bool = False):
    """Train as configured; write results to ``out`` (atomically) and return the Dataset.

    Every ``checkpoint_every`` epochs the checkpoint (default ``<out>.ckpt``) is rewritten; with
    ``keep_checkpoints`` a per-epoch copy is kept too (for alignment-over-training diagnostics).
    """
    cfg = cfg.resolved()
    if out is not None:
        out = results.check_writable(out)
    if checkpoint_every and checkpoint is None:
        checkpoint = Path(out).with_suffix(".ckpt") if out is not None else None
    if resume and (checkpoint is None or not Path(checkpoint).is_file()):
        raise ValueError(f"--resume: no checkpoint found at {checkpoint}")
    data, model, cost, est, opt, sched, sampler, gen = build(cfg)
    average = WeightAverage(model, cost, decay=cfg.ema_decay) if cfg.ema_decay else None
    start, history = 0, []
    if resume:
        state = checkpoints.load(checkpoint)
        if TrainConfig.from_dict(state["config"]).to_dict() != cfg.to_dict():
            raise ValueError(f"checkpoint {checkpoint} was written by a different config")
        start, history = checkpoints.restore(state, model=model, optimizer=opt, scheduler=sched,
                                             generator=gen, estimator=est, cost=cost,
                                             average=average)

    def on_epoch_end(epoch: int, hist: list[dict]) -> None:
        if checkpoint is not None and checkpoint_every and (
                epoch % checkpoint_every == 0 or epoch == cfg.epochs):
            kw = dict(epoch=epoch, model=model, optimizer=opt, scheduler=sched, generator=gen,
                      history=hist, config=cfg.to_dict(), estimator=est, cost=cost,
                      average=average)
            checkpoints.save(checkpoint, **kw)
            if keep_checkpoints:
                checkpoints.save(epoch_checkpoint(checkpoint, epoch), **kw)

    extra = None
    if cfg.lipschitz:
        # contraction of the relaxation map at the free fixed point, on 64 fixed test inputs
        # (seed spectral-normalization-eqprop §2.2); T = 0 relaxation with the run's step size
        from .diagnostics import lipschitz_constant

        probe = Relaxation(steps=cfg.steps, step_size=cfg.step_size if cfg.sampler == "relax"
                           else 0.5)
        xl, yl = data.test_x[:64].to(model.device, model.dtype), data.test_y[:64].to(model.device)

        def extra():
            ds = lipschitz_constant(model, cost, xl, yl, probe, iters=30)
            return {"lipschitz": float(ds["lipschitz_max"])}

    history = fit(model, cost, est, opt, data, epochs=cfg.epochs, batch_size=cfg.batch_size,
                  scheduler=sched, generator=gen, eval_sampler=sampler, history=history,
                  start_epoch=start, reporter=make_reporter(quiet), on_epoch_end=on_epoch_end,
                  extra_metrics=extra, augment=augment_for(cfg, data),
                  dropout=UnitDropout(cfg.dropout) if cfg.dropout else None, average=average,
                  warmup_batches=round(cfg.warmup_epochs
                                       * math.ceil(data.train_x.shape[0] / cfg.batch_size)))
    config = cfg.to_dict()
    config["sizes"] = [data.input_size, *cfg.hidden, data.num_classes]
    config["data_source"] = data.source
    ds = results.run_dataset(history, config, name=f"{cfg.dataset}-{cfg.estimator}")
    if out is not None:
        results.write(ds, out)
    return ds


def seconds_per_epoch(ds) -> float:
    w = ds["wall_seconds"].values
    return float(w[-1] / len(w)) if len(w) else math.nan

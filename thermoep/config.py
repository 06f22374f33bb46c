"""The configuration of a training run: six frozen sections, each built through a registry.

    [data]       name (DATASETS), data_dir, limit_train, limit_test, standardize, hflip, translate
    [model]      name (ENERGIES) and its builder's parameters (hidden, activation, ...),
                 cost (COSTS), dropout
    [sampler]    name (SAMPLERS) and its constructor's parameters (steps, chains, temperature, ...)
    [estimator]  name (ESTIMATORS) and its constructor's parameters (beta, nodes, rao_blackwell,
                 beta_schedule = {name = "linear", end = 0.2}, ...)
    [optim]      name (sgd, adam), lr, momentum, weight_decay, schedule, warmup_epochs,
                 layer_lrs, ema_decay
    [run]        epochs, batch_size, seed, device, dtype, lipschitz, compile

The defaults of a registry member's parameters are its constructor's own: :meth:`RunConfig.resolved`
fills every one of them in from the signature, so a results file holds the full config and a new
member (one file, one registry line) is configurable by itself. The sampler's name may be left
out: block Gibbs for discrete units, Langevin for the estimators meant for T > 0 (or a given
temperature), the relaxation otherwise.

A config is a dict (or a TOML / JSON file) with one table per section; a component section holds
its ``name`` beside its parameters. :meth:`RunConfig.with_values` takes dotted keys
(``sampler.chains``) or the short keys of the command line (:data:`SHORT`); the flat configs of
thermoep 0.1 (results files, sweep files) are read through the same short keys.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import _checks

SECTIONS = ("data", "model", "sampler", "estimator", "optim", "run")
#: the entries a run adds to its stored config (read back as they are, never configured)
DERIVED = ("sizes", "data_source")

#: short key (a command-line flag, a thermoep 0.1 config field) → dotted key
SHORT = {
    "dataset": "data.name", "data_dir": "data.data_dir", "limit_train": "data.limit_train",
    "limit_test": "data.limit_test", "standardize": "data.standardize", "hflip": "data.hflip",
    "translate": "data.translate",
    "energy": "model.name", "hidden": "model.hidden", "activation": "model.activation",
    "init_scale": "model.init_scale", "cost": "model.cost", "dropout": "model.dropout",
    "sampler": "sampler.name", "temperature": "sampler.temperature", "steps": "sampler.steps",
    "nudged_steps": "sampler.nudged_steps", "burn_in": "sampler.burn_in",
    "chains": "sampler.chains", "step_size": "sampler.step_size", "tol": "sampler.tol",
    "coupled": "sampler.coupled", "thin": "sampler.thin",
    "warm_steps": "sampler.warm_steps", "warm_burn_in": "sampler.warm_burn_in",
    "estimator": "estimator.name", "beta": "estimator.beta", "nodes": "estimator.nodes",
    "rao_blackwell": "estimator.rao_blackwell", "beta_schedule": "estimator.beta_schedule",
    "optimizer": "optim.name", "lr": "optim.lr", "momentum": "optim.momentum",
    "weight_decay": "optim.weight_decay", "schedule": "optim.schedule",
    "warmup_epochs": "optim.warmup_epochs", "layer_lrs": "optim.layer_lrs",
    "ema_decay": "optim.ema_decay",
    "epochs": "run.epochs", "batch_size": "run.batch_size", "seed": "run.seed",
    "device": "run.device", "dtype": "run.dtype", "lipschitz": "run.lipschitz",
    "compile": "run.compile", "eval_steps": "run.eval_steps", "eval_burn_in": "run.eval_burn_in",
}
#: what ``--binary`` (``binary = true``) sets: binary units, trained by the finite nudge with
#: block Gibbs at the settings measured to train them on MNIST (benchmarks/results/
#: mnist_binary.md; at T = 1 or β ≤ 1 the outputs learn to stay off and accuracy stays at
#: chance). Any of them can be given otherwise (flags, ``--set``).
BINARY = {
    "model.name": "boltzmann", "estimator.name": "finite-nudge", "estimator.beta": 2.0,
    "sampler.name": "gibbs", "sampler.temperature": 0.1, "sampler.sweeps": 20,
    "sampler.burn_in": 5, "sampler.chains": 4, "sampler.coupled": True,
    "data.standardize": True,
}

#: a parameter some samplers spell differently (Gibbs counts sweeps)
ALIASES = {"steps": "sweeps", "sweeps": "steps", "warm_steps": "warm_sweeps",
           "warm_sweeps": "warm_steps"}

OPTIMIZERS = ("sgd", "adam")
SCHEDULES = ("cosine", "constant")
DTYPES = ("float32", "float64")


@dataclass(frozen=True, kw_only=True)
class DataConfig:
    """The dataset and what is done to it (``hflip``/``translate``: training augmentation)."""

    name: str = "digits"
    data_dir: str | None = None
    limit_train: int | None = None
    limit_test: int | None = None
    standardize: bool | str = False
    hflip: bool = False
    translate: int = 0


@dataclass(frozen=True, kw_only=True)
class ModelConfig:
    """An architecture of ``ENERGIES`` with its builder's parameters, the cost and dropout."""

    name: str = "hopfield"
    cost: str = "squared-error"
    dropout: float = 0.0
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class SamplerConfig:
    """A sampler of ``SAMPLERS`` (None: chosen from the model and the estimator)."""

    name: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class EstimatorConfig:
    """An estimator of ``ESTIMATORS`` with its constructor's parameters."""

    name: str = "centered"
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class OptimConfig:
    """The optimiser and its learning-rate schedule (``layer_lrs``: one rate per layer with
    parameters, then the read-out's; ``ema_decay``: evaluate a moving average of the weights)."""

    name: str = "adam"
    lr: float = 2e-3
    momentum: float = 0.9
    weight_decay: float = 0.0
    schedule: str = "cosine"
    warmup_epochs: float = 0.0
    layer_lrs: tuple[float, ...] | None = None
    ema_decay: float = 0.0


@dataclass(frozen=True, kw_only=True)
class RunSettings:
    """How long, in which batches, with which seed, where (``lipschitz``: record the Lipschitz
    constant of the relaxation map every epoch; ``compile``: torch.compile the samplers'
    elementwise kernels, :mod:`thermoep.compilation`; ``eval_steps`` / ``eval_burn_in``: the
    test evaluation's sampler takes these steps — Gibbs: sweeps — and burn-in instead of the
    training sampler's, for a short training schedule whose free phase is too short to predict
    from)."""

    epochs: int = 30
    batch_size: int = 32
    seed: int = 0
    device: str = "auto"
    dtype: str = "float32"
    lipschitz: bool = False
    compile: bool = False
    eval_steps: int | None = None
    eval_burn_in: int | None = None


_SECTION_TYPES = {"data": DataConfig, "model": ModelConfig, "sampler": SamplerConfig,
                  "estimator": EstimatorConfig, "optim": OptimConfig, "run": RunSettings}


def _registries():
    from .costs import COSTS
    from .energies.architectures import ENERGIES
    from .objectives import ESTIMATORS
    from .samplers import SAMPLERS
    from .schedules import BETA_SCHEDULES

    return {"model": ENERGIES, "sampler": SAMPLERS, "estimator": ESTIMATORS, "cost": COSTS,
            "beta_schedule": BETA_SCHEDULES}


def _capability(factory, name: str, default=False):
    """An attribute of a registry member (a class, a builder, or a partial of one)."""
    return getattr(factory, name, getattr(getattr(factory, "func", None), name, default))


def signature_defaults(factory, skip=()) -> dict[str, Any]:
    """The keyword parameters of ``factory`` and their defaults (``inspect.Parameter.empty``
    for a required one)."""
    out = {}
    for name, p in inspect.signature(factory).parameters.items():
        if name in skip or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        out[name] = p.default
    return out


def _complete(section: str, name: str, factory, params: Mapping, skip=()) -> dict[str, Any]:
    """``params`` with every default of ``factory`` filled in; unknown ones refused."""
    accepted = signature_defaults(factory, skip)
    params = dict(params)
    for given, alias in ALIASES.items():  # e.g. steps → sweeps for Gibbs
        if given in params and given not in accepted and alias in accepted:
            params[alias] = params.pop(given)
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        keys = ", ".join(f"{section}.{k}" for k in unknown)
        raise ValueError(f"{keys}: {section} {name!r} has no parameter "
                         f"{', '.join(map(repr, unknown))}; its parameters: {sorted(accepted)}")
    out = {}
    for k, default in accepted.items():
        if k in params:
            out[k] = params[k]
        elif default is inspect.Parameter.empty:
            raise ValueError(f"{section} {name!r} needs the parameter {k!r}")
        else:
            out[k] = default
    return out


def _plain(value):
    """JSON-able: tuples as lists, nested mappings as dicts."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _frozen(value):
    """Lists as tuples (hashable, comparable with what the constructors keep)."""
    if isinstance(value, Mapping):
        return {k: _frozen(v) for k, v in value.items()}
    if isinstance(value, list):
        return tuple(_frozen(v) for v in value)
    return value


@dataclass(frozen=True, kw_only=True)
class RunConfig:
    """Every setting of a run (module docstring)."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    sampler: SamplerConfig = field(default_factory=SamplerConfig)
    estimator: EstimatorConfig = field(default_factory=EstimatorConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    run: RunSettings = field(default_factory=RunSettings)

    # -- reading and writing -----------------------------------------------------------------------
    def to_dict(self) -> dict:
        """One table per section; a component's name beside its parameters."""
        out = {}
        for s in SECTIONS:
            part = getattr(self, s)
            d = {f.name: getattr(part, f.name) for f in dataclasses.fields(part)
                 if f.name != "params"}
            d.update(getattr(part, "params", {}))
            out[s] = _plain(d)
        return out

    @classmethod
    def from_dict(cls, d: Mapping) -> RunConfig:
        """From :meth:`to_dict`'s form (also with only some sections or keys), or a flat config of
        short keys (thermoep 0.1's TrainConfig, as stored in its results files)."""
        if not isinstance(d, Mapping):
            raise TypeError(f"a config is a mapping of sections, got {type(d).__name__}")
        tables = [k for k, v in d.items() if isinstance(v, Mapping) and (
            k in SECTIONS or k not in SHORT and k != "extra")]  # 0.1 stored an "extra" dict
        if not tables:
            return cls.from_legacy(d)
        unknown = sorted(set(d) - set(SECTIONS) - set(DERIVED))
        if unknown:
            raise ValueError(f"unknown config sections {unknown}; the sections are "
                             f"{list(SECTIONS)}")
        parts = {}
        for s in SECTIONS:
            table = dict(d.get(s) or {})
            kind = _SECTION_TYPES[s]
            fields = {f.name for f in dataclasses.fields(kind)} - {"params"}
            if "params" in {f.name for f in dataclasses.fields(kind)}:
                own = {k: _frozen(v) for k, v in table.items() if k in fields}
                params = {k: _frozen(v) for k, v in table.items() if k not in fields}
                parts[s] = kind(**own, params=params)
            else:
                unknown = sorted(set(table) - fields)
                if unknown:
                    raise ValueError(f"unknown key(s) {unknown} in [{s}]; known: {sorted(fields)}")
                parts[s] = kind(**{k: _frozen(v) for k, v in table.items()})
        return cls(**parts)

    @classmethod
    def from_legacy(cls, flat: Mapping) -> RunConfig:
        """A flat config of thermoep 0.1 (its TrainConfig, stored in its results files): None
        means "the default" there, so it is dropped, and so are the sampler and estimator
        fields its stored configs carry for members that do not take them."""
        d = {k: v for k, v in flat.items() if v is not None and k not in DERIVED + ("extra",)}
        sizes = flat.get("sizes")
        if sizes is not None:
            d["sizes"] = sizes
        return cls.of(**d)._drop_legacy_extras(flat)

    @classmethod
    def of(cls, **values) -> RunConfig:
        """The default config with ``values`` set, by short keys (as on the command line) or,
        written ``section__key``, dotted ones: ``RunConfig.of(hidden=[64], estimator=
        "finite-nudge", sampler__chains=8)``. thermoep 0.1's forms are understood: ``binary``,
        ``sizes``, ``conditional`` and ``rao_blackwell`` as booleans, ``beta_schedule`` as a
        name with ``beta_start`` / ``beta_end``."""
        d = {k.replace("__", "."): v for k, v in values.items()}
        base = cls()
        if d.pop("binary", False):
            base = base.with_values(BINARY)
            d.pop("energy", None)
            d.pop("activation", None)
        sizes = d.pop("sizes", None)
        if sizes is not None:
            d["hidden"] = list(sizes)[1:-1]
        rb = d.pop("rao_blackwell", None)
        if d.pop("conditional", False):
            if rb:
                raise ValueError("choose one Rao–Blackwellisation: rao_blackwell (over each "
                                 "step's noise) or conditional (over the units given their "
                                 "neighbours)")
            rb = "conditional"
        if rb is not None and rb is not False:
            d["estimator.rao_blackwell"] = "step" if rb is True else rb
        schedule = d.pop("beta_schedule", None)
        start, end = d.pop("beta_start", None), d.pop("beta_end", None)
        if isinstance(schedule, str):
            if schedule == "linear":
                schedule = {"name": "linear", "start": start, "end": end}
            elif schedule == "fixed":
                schedule = None
            else:
                schedule = {"name": schedule}
        if schedule is not None:
            d["estimator.beta_schedule"] = schedule
        return base.with_values(d)

    def _drop_legacy_extras(self, flat) -> RunConfig:
        """thermoep 0.1 stored every sampler and estimator field for every run (chains for the
        relaxation, nodes for centered EP): keep only those the chosen members take."""
        reg = _registries()
        sampler = self.sampler.name or self._default_sampler()
        params = dict(self.sampler.params)
        if sampler in reg["sampler"]:
            accepted = signature_defaults(reg["sampler"][sampler])
            if "temperature" in params and "temperature" not in accepted and \
                    not params["temperature"]:
                params.pop("temperature")
            params = {k: v for k, v in params.items()
                      if k in accepted or ALIASES.get(k) in accepted}
        est = dict(self.estimator.params)
        if self.estimator.name in reg["estimator"]:
            accepted = signature_defaults(reg["estimator"][self.estimator.name], ("sampler",))
            est = {k: v for k, v in est.items() if k in accepted}
        return dataclasses.replace(
            self, sampler=dataclasses.replace(self.sampler, name=sampler, params=params),
            estimator=dataclasses.replace(self.estimator, params=est))

    @classmethod
    def from_file(cls, path: str | os.PathLike) -> RunConfig:
        """A TOML (``.toml``) or JSON file of sections."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"config file {path} does not exist")
        text = path.read_text()
        try:
            if path.suffix == ".toml":
                try:
                    import tomllib
                except ModuleNotFoundError:  # Python 3.10
                    import tomli as tomllib
                d = tomllib.loads(text)
            else:
                d = json.loads(text)
        except ValueError as exc:
            raise ValueError(f"config file {path} cannot be read: {exc}") from None
        return cls.from_dict(d)

    # -- changing values ---------------------------------------------------------------------------
    def get(self, key: str):
        """The value at a dotted or short key (None when it is not set)."""
        section, name = _split(key)
        part = getattr(self, section)
        if name in {f.name for f in dataclasses.fields(part)} and name != "params":
            return getattr(part, name)
        return getattr(part, "params", {}).get(name)

    def with_values(self, values: Mapping[str, Any]) -> RunConfig:
        """A copy with ``values`` set, keyed by dotted (``sampler.chains``) or short keys."""
        parts = {s: getattr(self, s) for s in SECTIONS}
        for key, value in values.items():
            section, name = _split(key)
            part = parts[section]
            value = _frozen(value)
            names = {f.name for f in dataclasses.fields(part)}
            if name in names and name != "params":
                parts[section] = dataclasses.replace(part, **{name: value})
            elif "params" in names:
                parts[section] = dataclasses.replace(part, params={**part.params, name: value})
            else:
                raise ValueError(f"[{section}] has no key {name!r}; its keys: "
                                 f"{sorted(names)}")
        return RunConfig(**parts)

    # -- resolution --------------------------------------------------------------------------------
    def _default_sampler(self) -> str:
        reg = _registries()
        if self.model.name in reg["model"] and _capability(reg["model"][self.model.name],
                                                           "discrete"):
            return "gibbs"
        est = reg["estimator"].get(self.estimator.name)
        if (est is not None and _capability(est, "stochastic")) or (
                self.sampler.params.get("temperature") or 0) > 0:
            return "langevin"
        return "relax"

    def resolved(self) -> RunConfig:
        """Every default filled in from the constructors and every value checked (by building
        the sampler and the estimator); errors name the section and the parameter."""
        reg = _registries()
        data = self._check_data()
        model = self._check_model(reg)
        sampler_name = self.sampler.name or self._default_sampler()
        if sampler_name not in reg["sampler"]:
            raise ValueError(f"unknown sampler {sampler_name!r}; choose one of "
                             f"{sorted(reg['sampler'])}")
        factory = reg["sampler"][sampler_name]
        params = dict(self.sampler.params)
        if "temperature" in params and "temperature" not in signature_defaults(factory):
            if params["temperature"]:
                raise ValueError(f"sampler {sampler_name!r} is the T = 0 relaxation; "
                                 f"temperature={params['temperature']} needs a Monte-Carlo "
                                 "sampler (langevin, mala, gibbs)")
            params.pop("temperature")
        sampler_params = _complete("sampler", sampler_name, factory, params)
        if self.estimator.name not in reg["estimator"]:
            raise ValueError(f"unknown estimator {self.estimator.name!r}; choose one of "
                             f"{sorted(reg['estimator'])}")
        est_factory = reg["estimator"][self.estimator.name]
        est_params = _complete("estimator", self.estimator.name, est_factory,
                               self.estimator.params, ("sampler",))
        cfg = RunConfig(
            data=data, model=model,
            sampler=SamplerConfig(name=sampler_name, params=sampler_params),
            estimator=EstimatorConfig(name=self.estimator.name, params=est_params),
            optim=self._check_optim(), run=self._check_run())
        cfg.make_estimator()  # the constructors check their values and each other
        return cfg

    def _check_data(self) -> DataConfig:
        from .data import DATASETS
        from .data.dataset import standardize_mode

        d = self.data
        if d.name not in DATASETS:
            raise ValueError(f"unknown dataset {d.name!r}; choose one of {sorted(DATASETS)}")
        standardize_mode(d.standardize)
        _checks.positive_int("data.translate", d.translate, minimum=0)
        for key in ("limit_train", "limit_test"):
            if getattr(d, key) is not None:
                _checks.positive_int(f"data.{key}", getattr(d, key))
        return d

    def _check_model(self, reg) -> ModelConfig:
        m = self.model
        if m.name not in reg["model"]:
            raise ValueError(f"unknown model {m.name!r} (model.name); choose one of "
                             f"{sorted(reg['model'])}")
        if m.cost not in reg["cost"]:
            raise ValueError(f"unknown cost {m.cost!r}; choose one of {sorted(reg['cost'])}")
        dropout = _checks.finite_float("model.dropout", m.dropout)
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"model.dropout must be in [0, 1), got {m.dropout}")
        params = _complete("model", m.name, reg["model"][m.name], m.params,
                           ("inputs", "outputs"))
        return dataclasses.replace(m, params=params)

    def _check_optim(self) -> OptimConfig:
        import torch

        o = self.optim
        top = torch.finfo(getattr(torch, self.run.dtype, torch.float32)).max
        for key in ("lr", "momentum", "weight_decay"):
            if abs(getattr(o, key)) > top:
                raise ValueError(f"optim.{key} = {getattr(o, key):g} overflows the run's "
                                 f"{self.run.dtype} (largest {top:.3g})")
        if o.name not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {o.name!r}; choose one of {list(OPTIMIZERS)}")
        if o.schedule not in SCHEDULES:
            raise ValueError(f"unknown learning-rate schedule {o.schedule!r}; choose one of "
                             f"{list(SCHEDULES)}")
        _checks.positive_float("optim.lr", o.lr)
        _checks.positive_float("optim.momentum", o.momentum, allow_zero=True)
        _checks.positive_float("optim.weight_decay", o.weight_decay, allow_zero=True)
        _checks.positive_float("optim.warmup_epochs", o.warmup_epochs, allow_zero=True)
        for v in o.layer_lrs or ():
            _checks.positive_float("optim.layer_lrs", v)
        if not 0.0 <= _checks.finite_float("optim.ema_decay", o.ema_decay) < 1.0:
            raise ValueError(f"optim.ema_decay must be in [0, 1) (0 = no weight average), got "
                             f"{o.ema_decay}")
        return o

    def _check_run(self) -> RunSettings:
        r = self.run
        _checks.positive_int("run.epochs", r.epochs)
        _checks.positive_int("run.batch_size", r.batch_size)
        _checks.positive_int("run.seed", r.seed, minimum=0)
        if r.dtype not in DTYPES:
            raise ValueError(f"run.dtype must be one of {list(DTYPES)}, got {r.dtype!r}")
        if r.device not in ("auto", "cpu", "cuda") and not str(r.device).startswith("cuda:"):
            raise ValueError(f"run.device must be auto, cpu or cuda[:N], got {r.device!r}")
        return r

    # -- building ----------------------------------------------------------------------------------
    def make_sampler(self):
        reg = _registries()
        return reg["sampler"][self.sampler.name](**self.sampler.params)

    def make_eval_sampler(self):
        """The test evaluation's own sampler: the training sampler with ``run.eval_steps`` and
        ``run.eval_burn_in`` in place of its steps and burn-in where they are given; None when
        neither is (the evaluation then runs the training sampler itself)."""
        r = self.run
        if r.eval_steps is None and r.eval_burn_in is None:
            return None
        params = dict(self.sampler.params)
        for value, keys, what in ((r.eval_steps, ("steps", "sweeps"), "steps"),
                                  (r.eval_burn_in, ("burn_in",), "burn_in")):
            if value is None:
                continue
            key = next((k for k in keys if k in params), None)
            if key is None:
                raise ValueError(f"run.eval_{what}: sampler {self.sampler.name!r} has no "
                                 f"{what}")
            params[key] = value
        try:
            return _registries()["sampler"][self.sampler.name](**params)
        except ValueError as exc:
            raise ValueError(f"run.eval_steps / run.eval_burn_in: {exc}") from None

    def make_estimator(self, sampler=None):
        """The estimator on ``sampler`` (default :meth:`make_sampler`), its coin seeded from
        ``run.seed``; a ``beta_schedule`` table is built through ``BETA_SCHEDULES``."""
        reg = _registries()
        params = dict(self.estimator.params)
        spec = params.get("beta_schedule")
        if isinstance(spec, Mapping):
            params["beta_schedule"] = _beta_schedule(spec, params.get("beta"))
        est = reg["estimator"][self.estimator.name](
            self.make_sampler() if sampler is None else sampler, **params)
        est.seed(self.run.seed)
        return est

    def make_model(self, inputs: tuple[int, ...], classes: int):
        """(energy, cost) for examples of shape ``inputs`` and ``classes`` classes."""
        reg = _registries()
        cost_cls = reg["cost"][self.model.cost]
        reads_hidden = bool(getattr(cost_cls, "reads_hidden", False))
        energy = reg["model"][self.model.name](tuple(inputs), None if reads_hidden else classes,
                                               **self.model.params)
        cost = cost_cls.for_model(energy.layer_sizes[energy.output], classes)
        return energy, cost

    def summary(self) -> dict[str, Any]:
        """The settings worth seeing at a glance (results attrs, plot titles, progress lines)."""
        return {"dataset": self.data.name, "energy": self.model.name,
                "estimator": self.estimator.name, "sampler": self.sampler.name,
                "beta": self.estimator.params.get("beta"),
                "temperature": self.sampler.params.get("temperature", 0.0),
                "seed": self.run.seed}

    def flat(self) -> dict[str, Any]:
        """Every value by dotted key (``sampler.chains``)."""
        return {f"{s}.{k}": v for s, table in self.to_dict().items() for k, v in table.items()}


def _split(key: str) -> tuple[str, str]:
    """(section, name) of a dotted or short key."""
    if "." not in key:
        if key not in SHORT:
            raise ValueError(f"unknown setting {key!r}: use section.key (sections "
                             f"{list(SECTIONS)}) or one of {sorted(SHORT)}")
        key = SHORT[key]
    section, _, name = key.partition(".")
    if section not in SECTIONS or not name:
        raise ValueError(f"unknown setting {key!r}: the sections are {list(SECTIONS)}")
    return section, name


def _beta_schedule(spec: Mapping, beta):
    """A β schedule from its table, its missing β / start taken from the estimator's β."""
    reg = _registries()["beta_schedule"]
    spec = dict(spec)
    name = spec.pop("name", None)
    if name not in reg:
        raise ValueError(f"unknown beta schedule {name!r}; choose one of {sorted(reg)}")
    factory = reg[name]
    accepted = signature_defaults(factory)
    for key in ("beta", "start"):
        if key in accepted and spec.get(key) is None:
            spec[key] = beta
    if name == "linear" and spec.get("end") is None:
        raise ValueError("estimator.beta_schedule 'linear' needs its end (β of the last epoch)")
    return factory(**_complete("estimator.beta_schedule", name, factory, spec))


@functools.cache
def defaults() -> dict[str, Any]:
    """The flat defaults of the plain sections (for kept runs written before a key existed)."""
    return RunConfig().flat()


def values_equal(a, b) -> bool:
    """Config values compare as JSON does (tuples equal lists; 1 == 1.0)."""
    a, b = _plain(a), _plain(b)
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    return a == b


__all__ = ["DERIVED", "SECTIONS", "SHORT", "DataConfig", "EstimatorConfig", "ModelConfig",
           "OptimConfig", "RunConfig", "RunSettings", "SamplerConfig", "signature_defaults"]

"""``thermoep train``: a run config from a file, the short flags and ``--set``; then
``experiment.run``.

Every flag is a short form of one config key (``--chains`` is ``sampler.chains``, see
``thermoep.config.SHORT``); a flag that is not given leaves the key to the config file or to the
constructor's default, which ``--help`` does not repeat.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ..config import BINARY, SHORT, RunConfig
from ..data import DATASETS
from ..energies.architectures import ENERGIES
from ..objectives import ESTIMATORS
from ..samplers import SAMPLERS
from ..training import TrainingDiverged
from .common import USER_ERRORS, _floats, _hidden, app, fail, out

D, M, E, S, O, R = ("Data", "Model", "Estimator", "Sampler", "Optimisation", "Run")
FLAGS = {short: "--" + short.replace("_", "-") for short in SHORT}


def with_flags(exc: BaseException) -> BaseException:
    """The library's error with the flag of every config key it names (``sampler.chains`` →
    ``--chains``), so the message says what to change on the command line."""
    text = str(exc)
    hints = [f"{FLAGS[short]} sets {dotted}" for short, dotted in SHORT.items()
             if dotted in text and f"{FLAGS[short]} sets" not in text]
    return type(exc)(text + (f" ({'; '.join(hints)})" if hints else ""))


def parse_value(text: str):
    """A ``--set`` value: JSON when it parses (numbers, true/false/null, lists), else a string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def assignments(items: list[str] | None) -> dict:
    out_ = {}
    for item in items or []:
        if "=" not in item:
            raise ValueError(f"--set expects KEY=VALUE (e.g. sampler.chains=8), got {item!r}")
        key, value = item.split("=", 1)
        out_[key.strip()] = parse_value(value)
    return out_


@app.command()
def train(
    config: Annotated[Path | None, typer.Option(help="A run config (TOML or JSON, one table "
                      "per section: data, model, sampler, estimator, optim, run).",
                      rich_help_panel=R)] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="KEY=VALUE for any config key "
                    "(sampler.chains=8, estimator.beta=0.5; VALUE is JSON when it parses); "
                    "repeat; applied last.", rich_help_panel=R)] = None,
    estimator: Annotated[str | None, typer.Option(help=f"Gradient estimator: "
                         f"{', '.join(ESTIMATORS)} (default centered).",
                         rich_help_panel=E)] = None,
    path_integral: Annotated[bool, typer.Option("--path-integral", help="Shorthand for "
                             "--estimator path-integral.", rich_help_panel=E)] = False,
    beta: Annotated[float | None, typer.Option(help="Nudging strength β (default: the "
                    "estimator's, 1.0 for finite-nudge/path-integral, 0.2 otherwise).",
                    rich_help_panel=E)] = None,
    beta_schedule: Annotated[str | None, typer.Option(help="β over training: fixed, linear "
                             "(anneal to --beta-end), random-sign (per batch).",
                             rich_help_panel=E)] = None,
    beta_start: Annotated[float | None, typer.Option(help="First β of a linear anneal (default "
                          "--beta).", rich_help_panel=E)] = None,
    beta_end: Annotated[float | None, typer.Option(help="Final β of a linear anneal.",
                        rich_help_panel=E)] = None,
    nodes: Annotated[int | None, typer.Option(help="Gauss–Legendre nodes of the path integral.",
                     rich_help_panel=E)] = None,
    rao_blackwell: Annotated[bool, typer.Option("--rao-blackwell", help="ULA: average every "
                             "sample over its step's Gaussian noise (same expectations, less "
                             "noise; smooth units, squared error).", rich_help_panel=E)] = False,
    conditional: Annotated[bool, typer.Option("--conditional", help="Monte-Carlo samplers: "
                           "average the units of the layers not of the output's colour over "
                           "their exact conditional law given their neighbours (binary or tanh "
                           "units).", rich_help_panel=E)] = False,
    sampler: Annotated[str | None, typer.Option(help=f"Sampler: {', '.join(SAMPLERS)} "
                       "(default: relax, langevin for finite-nudge/path-integral or T > 0, "
                       "gibbs for discrete units).", rich_help_panel=S)] = None,
    temperature: Annotated[float | None, typer.Option(help="Temperature T of a Monte-Carlo "
                           "sampler (0: the relaxation).", rich_help_panel=S)] = None,
    steps: Annotated[int | None, typer.Option(help="Relaxation steps, or Markov-chain steps "
                     "(Gibbs sweeps) per phase.", rich_help_panel=S)] = None,
    nudged_steps: Annotated[int | None, typer.Option(help="Relaxation steps of the nudged "
                            "phases (warm-started).", rich_help_panel=S)] = None,
    burn_in: Annotated[int | None, typer.Option(help="Discarded Markov-chain steps per phase.",
                       rich_help_panel=S)] = None,
    warm_steps: Annotated[int | None, typer.Option(help="Markov-chain steps (Gibbs sweeps) of "
                          "a phase started from another phase's state: the nudged phases of "
                          "--independent chains, the path integral's nodes (default: --steps).",
                          rich_help_panel=S)] = None,
    warm_burn_in: Annotated[int | None, typer.Option(help="Discarded steps of such a "
                            "warm-started phase (default: --burn-in).",
                            rich_help_panel=S)] = None,
    chains: Annotated[int | None, typer.Option(help="Chains per input.",
                      rich_help_panel=S)] = None,
    step_size: Annotated[float | None, typer.Option(help="Relaxation or Langevin step size.",
                         rich_help_panel=S)] = None,
    tol: Annotated[float | None, typer.Option(help="Relaxation: stop a phase early once every "
                   "sample's residual is below this.", rich_help_panel=S)] = None,
    coupled: Annotated[bool | None, typer.Option("--coupled/--independent", help="Common "
                       "random numbers for the free and nudged chains.",
                       rich_help_panel=S)] = None,
    dataset: Annotated[str | None, typer.Option(help=f"Dataset: {', '.join(DATASETS)} "
                       "(default digits, embedded).", rich_help_panel=D)] = None,
    data_dir: Annotated[Path | None, typer.Option(help="Directory with the dataset's standard "
                        "files, searched alone (without it: $THERMOEP_DATA, then the system "
                        "directories).", rich_help_panel=D)] = None,
    limit_train: Annotated[int | None, typer.Option(help="Use the first N training examples.",
                           rich_help_panel=D)] = None,
    limit_test: Annotated[int | None, typer.Option(help="Use the first N test examples.",
                          rich_help_panel=D)] = None,
    standardize: Annotated[bool, typer.Option("--standardize", help="Standardise inputs with "
                           "the training set's mean and std per feature.",
                           rich_help_panel=D)] = False,
    standardize_global: Annotated[bool, typer.Option("--standardize-global", help="Standardise "
                                  "inputs with one mean and std over all pixels (hybrid-EP "
                                  "seed).", rich_help_panel=D)] = False,
    hflip: Annotated[bool, typer.Option("--hflip", help="Augment training batches with random "
                     "left-right mirrors (per sample).", rich_help_panel=D)] = False,
    translate: Annotated[int | None, typer.Option(help="Augment training batches with random "
                         "shifts of up to N pixels.", rich_help_panel=D)] = None,
    energy: Annotated[str | None, typer.Option(help=f"Architecture: {', '.join(ENERGIES)} "
                      "(default hopfield).", rich_help_panel=M)] = None,
    binary: Annotated[bool, typer.Option("--binary", help="Binary units (--energy boltzmann) "
                      "with the settings that train them: finite nudge β = 2, block Gibbs at "
                      "T = 0.1, 4 coupled chains, 20 sweeps (5 burn-in), standardised inputs "
                      "(thermoep.config.BINARY); flags override each.", rich_help_panel=M)
                      ] = False,
    hidden: Annotated[str | None, typer.Option(help="Hidden layer sizes, comma-separated.",
                      rich_help_panel=M)] = None,
    activation: Annotated[str | None, typer.Option(help="Unit kind of the hidden and output "
                          "layers: tanh, hardsigmoid, sigmoid4.", rich_help_panel=M)] = None,
    cost: Annotated[str | None, typer.Option(help="Cost: squared-error, cross-entropy (the "
                    "output read as logits) or softmax-readout (a trained linear read-out of "
                    "the last hidden layer; T = 0 only).", rich_help_panel=M)] = None,
    dropout: Annotated[float | None, typer.Option(help="Drop each hidden unit with this "
                       "probability per sample and batch, inside the energy.",
                       rich_help_panel=M)] = None,
    epochs: Annotated[int | None, typer.Option(help="Training epochs (default 30).",
                      rich_help_panel=O)] = None,
    batch_size: Annotated[int | None, typer.Option(help="Mini-batch size (default 32).",
                          rich_help_panel=O)] = None,
    optimizer: Annotated[str | None, typer.Option(help="Optimizer: sgd, adam (default).",
                         rich_help_panel=O)] = None,
    lr: Annotated[float | None, typer.Option(help="Learning rate (default 0.002).",
                  rich_help_panel=O)] = None,
    layer_lrs: Annotated[str | None, typer.Option(help="Per-layer learning rates, comma-"
                         "separated: one per layer with parameters from the input, then the "
                         "read-out's; overrides --lr.", rich_help_panel=O)] = None,
    momentum: Annotated[float | None, typer.Option(help="SGD momentum (default 0.9).",
                        rich_help_panel=O)] = None,
    weight_decay: Annotated[float | None, typer.Option(help="Weight decay.",
                            rich_help_panel=O)] = None,
    schedule: Annotated[str | None, typer.Option(help="LR schedule: cosine (default), "
                        "constant.", rich_help_panel=O)] = None,
    warmup_epochs: Annotated[float | None, typer.Option(help="Linear learning-rate warm-up "
                             "over this many epochs (per batch).", rich_help_panel=O)] = None,
    ema_decay: Annotated[float | None, typer.Option(help="Evaluate an exponential moving "
                         "average of the weights with this decay per step (e.g. 0.999); the "
                         "online weights' test metrics are kept as test_*_online.",
                         rich_help_panel=O)] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of every random number (default 0).",
                    rich_help_panel=R)] = None,
    device: Annotated[str | None, typer.Option(help="auto (default), cpu or cuda[:N].",
                      rich_help_panel=R)] = None,
    dtype: Annotated[str | None, typer.Option(help="float32 (default) or float64; float16 or "
                     "bfloat16 run the relaxation's steps in that precision (states, matmuls "
                     "and convolutions, for a GPU), parameters and gradients float32.",
                     rich_help_panel=R)] = None,
    lipschitz: Annotated[bool, typer.Option("--lipschitz", help="Record the Lipschitz constant "
                         "of the relaxation map at the fixed point each epoch.",
                         rich_help_panel=R)] = False,
    compile: Annotated[bool, typer.Option("--compile", help="torch.compile the samplers' "
                       "elementwise kernels (tanh units' Gibbs laws); costs a minute or more "
                       "before the first batch, falls back to eager where it fails.",
                       rich_help_panel=R)] = False,
    eval_steps: Annotated[int | None, typer.Option(help="Steps (Gibbs: sweeps) of the test "
                          "evaluation's sampler (default: the training sampler's).",
                          rich_help_panel=R)] = None,
    eval_burn_in: Annotated[int | None, typer.Option(help="Burn-in of the test evaluation's "
                            "sampler (default: the training sampler's).",
                            rich_help_panel=R)] = None,
    out_path: Annotated[Path | None, typer.Option("--out", help="Results file (netCDF; default "
                        "runs/<dataset>-<estimator>.nc).", rich_help_panel=R)] = None,
    checkpoint_every: Annotated[int, typer.Option(help="Checkpoint every N epochs (0 = never);"
                                " written next to --out as .ckpt.", rich_help_panel=R)] = 0,
    keep_checkpoints: Annotated[bool, typer.Option("--keep-checkpoints", help="Also keep one "
                                "checkpoint per epoch (<out>.epochNNNN.ckpt).",
                                rich_help_panel=R)] = False,
    resume: Annotated[bool, typer.Option("--resume", help="Resume from the checkpoint next to "
                      "--out.", rich_help_panel=R)] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but errors.",
                     rich_help_panel=R)] = False,
) -> None:
    """Train a network with an EP estimator and write per-epoch results (netCDF, xarray).

    Example: thermoep train --beta 1.0 --path-integral
    """
    from .. import experiment

    given = {
        "estimator": "path-integral" if path_integral else estimator, "beta": beta,
        "nodes": nodes, "sampler": sampler, "temperature": temperature, "steps": steps,
        "nudged_steps": nudged_steps, "burn_in": burn_in, "warm_steps": warm_steps,
        "warm_burn_in": warm_burn_in, "chains": chains,
        "step_size": step_size, "tol": tol, "coupled": coupled, "dataset": dataset,
        "data_dir": None if data_dir is None else str(data_dir), "limit_train": limit_train,
        "limit_test": limit_test, "translate": translate, "energy": energy,
        "activation": activation, "cost": cost, "dropout": dropout,
        "epochs": epochs, "batch_size": batch_size, "optimizer": optimizer, "lr": lr,
        "momentum": momentum, "weight_decay": weight_decay, "schedule": schedule,
        "warmup_epochs": warmup_epochs, "ema_decay": ema_decay, "seed": seed, "device": device,
        "dtype": dtype, "eval_steps": eval_steps, "eval_burn_in": eval_burn_in,
    }
    try:
        values = {k: v for k, v in given.items() if v is not None}
        if dtype in ("float16", "bfloat16"):  # the relaxation's precision, float32 parameters
            values.pop("dtype")
            values["sampler.precision"] = dtype
        if hidden is not None:
            values["hidden"] = list(_hidden(hidden))
        if layer_lrs is not None:
            values["layer_lrs"] = list(_floats(layer_lrs, "--layer-lrs"))
        if standardize or standardize_global:
            values["standardize"] = "global" if standardize_global else True
        for flag, key in ((hflip, "hflip"), (lipschitz, "lipschitz"), (compile, "compile")):
            if flag:
                values[key] = True
        if rao_blackwell and conditional:
            raise ValueError("choose one Rao–Blackwellisation: --rao-blackwell (over each "
                             "step's noise) or --conditional (over the units given their "
                             "neighbours)")
        if rao_blackwell or conditional:
            values["rao_blackwell"] = "step" if rao_blackwell else "conditional"
        if beta_schedule not in (None, "fixed"):
            values["beta_schedule"] = {"name": beta_schedule,
                                       **({"start": beta_start} if beta_start is not None
                                          else {}),
                                       **({"end": beta_end} if beta_end is not None else {})}
        cfg = RunConfig.from_file(config) if config is not None else RunConfig()
        if binary:  # the binary preset, under the flags and --set
            cfg = cfg.with_values(BINARY)
        cfg = cfg.with_values(values).with_values(assignments(set_)).resolved()
        if out_path is None:
            out_path = Path("runs") / f"{cfg.data.name}-{cfg.estimator.name}.nc"
            out_path.parent.mkdir(parents=True, exist_ok=True)
        if not quiet:
            s = cfg.summary()
            out.print(f"[bold]thermoep train[/] {s['dataset']}: {s['estimator']} "
                      f"β={s['beta']} T={s['temperature']} sampler={s['sampler']} "
                      f"model={s['energy']} {dict(cfg.model.params)} "
                      f"epochs={cfg.run.epochs}", highlight=False)
        ds = experiment.run(cfg, out=out_path, checkpoint_every=checkpoint_every,
                            keep_checkpoints=keep_checkpoints, resume=resume, quiet=quiet)
    except TrainingDiverged as exc:
        n = len(exc.history)
        kept = (f"; the {n} epoch{'s' if n > 1 else ''} before it "
                f"{'are' if n > 1 else 'is'} in {out_path}") if n else ""
        fail(f"{exc}{kept}")
    except USER_ERRORS as exc:
        fail(with_flags(exc))
    if not quiet:
        acc = ds["test_accuracy"].values
        out.print(f"final test accuracy {acc[-1]:.2%} (best {acc.max():.2%}); results: {out_path}")

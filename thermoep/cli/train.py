"""``thermoep train``: parse options into a TrainConfig and call ``experiment.run``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..data import DATASETS
from ..energies.hopfield import ACTIVATIONS
from ..experiment import OPTIMIZERS, SAMPLER_NAMES, SCHEDULES, TrainConfig
from ..objectives import ESTIMATORS
from ..training import TrainingDiverged
from .app import USER_ERRORS, _floats, _hidden, app, fail, out

D, M, E, S, O, R = ("Data", "Model", "Estimator", "Sampler", "Optimisation", "Run")


@app.command()
def train(
    beta: Annotated[float | None, typer.Option(help="Nudging strength β (default: 1.0 for "
                    "finite-nudge/path-integral, 0.2 otherwise).", rich_help_panel=E)] = None,
    beta_schedule: Annotated[str, typer.Option(help="β over training: fixed, linear (anneal to "
                             "--beta-end), random-sign (per batch).", rich_help_panel=E)] = "fixed",
    beta_start: Annotated[float | None, typer.Option(help="First β of a linear anneal (default "
                          "--beta).", rich_help_panel=E)] = None,
    beta_end: Annotated[float | None, typer.Option(help="Final β of a linear anneal.",
                        rich_help_panel=E)] = None,
    path_integral: Annotated[bool, typer.Option("--path-integral", help="Shorthand for "
                             "--estimator path-integral.", rich_help_panel=E)] = False,
    estimator: Annotated[str, typer.Option(help=f"Gradient estimator: {', '.join(ESTIMATORS)}.",
                                           rich_help_panel=E)] = "centered",
    nodes: Annotated[int, typer.Option(help="Gauss–Legendre nodes of the path integral.",
                                       rich_help_panel=E)] = 4,
    temperature: Annotated[float | None, typer.Option(help="Temperature T (0 = deterministic "
                           "relaxation; default 0.01 for Langevin, 1 for Gibbs).",
                           rich_help_panel=E)] = None,
    sampler: Annotated[str | None, typer.Option(help=f"Sampler: {', '.join(SAMPLER_NAMES)} "
                       "(default: relax at T = 0, langevin at T > 0, gibbs for --binary).",
                       rich_help_panel=S)] = None,
    steps: Annotated[int | None, typer.Option(help="Relaxation steps / Markov-chain steps per "
                     "phase (default 20 relax, 30 MC).", rich_help_panel=S)] = None,
    nudged_steps: Annotated[int | None, typer.Option(help="Relaxation steps of nudged phases "
                            "(warm-started; default steps/2).", rich_help_panel=S)] = None,
    burn_in: Annotated[int | None, typer.Option(help="Discarded MC steps per phase (default "
                       "steps/3).", rich_help_panel=S)] = None,
    chains: Annotated[int | None, typer.Option(help="Chains per input (default 4 for MC).",
                      rich_help_panel=S)] = None,
    lipschitz: Annotated[bool, typer.Option("--lipschitz", help="Record the Lipschitz constant "
                         "of the relaxation map at the fixed point each epoch.",
                         rich_help_panel=S)] = False,
    coupled: Annotated[bool, typer.Option("--coupled", help="Common random numbers for the "
                       "free and nudged chains.", rich_help_panel=S)] = False,
    rao_blackwell: Annotated[bool, typer.Option("--rao-blackwell", help="ULA: average every "
                             "sample over its step's Gaussian noise (same expectations, less "
                             "Monte-Carlo noise; smooth units, squared error).",
                             rich_help_panel=S)] = False,
    conditional: Annotated[bool, typer.Option("--conditional", help="Monte-Carlo samplers: "
                           "replace the units of the layers not of the output's parity by their "
                           "exact conditional means given their neighbours (same expectations, "
                           "far less noise; binary or tanh units).", rich_help_panel=S)] = False,
    step_size: Annotated[float | None, typer.Option(help="Step size: relaxation (default 0.5), "
                         "Langevin (default 0.4).", rich_help_panel=S)] = None,
    tol: Annotated[float, typer.Option(help="Relaxation: stop a phase early once every "
                   "sample's residual is below this (0: always run all steps).",
                   rich_help_panel=S)] = 0.0,
    dataset: Annotated[str, typer.Option(help=f"Dataset: {', '.join(DATASETS)} (digits is "
                                         "embedded).", rich_help_panel=D)] = "digits",
    data_dir: Annotated[Path | None, typer.Option(help="Directory with the dataset's standard "
                        "files (also $THERMOEP_DATA).", rich_help_panel=D)] = None,
    limit_train: Annotated[int | None, typer.Option(help="Use the first N training examples.",
                           rich_help_panel=D)] = None,
    standardize: Annotated[bool, typer.Option("--standardize", help="Standardise inputs with "
                           "the training set's mean and std.", rich_help_panel=D)] = False,
    standardize_global: Annotated[bool, typer.Option("--standardize-global", help="Standardise "
                                  "inputs with one mean and std over all pixels (hybrid-EP "
                                  "seed).", rich_help_panel=D)] = False,
    limit_test: Annotated[int | None, typer.Option(help="Use the first N test examples.",
                          rich_help_panel=D)] = None,
    hflip: Annotated[bool, typer.Option("--hflip", help="Augment training batches with random "
                     "left-right mirrors (per sample).", rich_help_panel=D)] = False,
    translate: Annotated[int, typer.Option(help="Augment training batches with random shifts "
                         "of up to N pixels (per sample; blank pixels fill in).",
                         rich_help_panel=D)] = 0,
    hidden: Annotated[str, typer.Option(help="Hidden layer sizes, comma-separated.",
                                        rich_help_panel=M)] = "256",
    sizes: Annotated[str | None, typer.Option(help="All layer sizes, input to output (e.g. "
                     "64,256,10); overrides --hidden and must match the data.",
                     rich_help_panel=M)] = None,
    activation: Annotated[str, typer.Option(help=f"Activation: {', '.join(ACTIVATIONS)}.",
                                            rich_help_panel=M)] = "tanh",
    energy: Annotated[str, typer.Option(help="Continuous energy: hopfield (interactions "
                      "through ρ(s), self term ½‖s‖²) or prototypical (bilinear, s ← ρ(h); the "
                      "model of Laborieux et al. and the hybrid-EP seed; T = 0 only).",
                      rich_help_panel=M)] = "hopfield",
    binary: Annotated[bool, typer.Option("--binary", help="Binary stochastic units "
                      "(LayeredBoltzmann, Gibbs sampling).", rich_help_panel=M)] = False,
    cost: Annotated[str, typer.Option(help="Cost: squared-error, cross-entropy (the output "
                                      "layer read as logits) or softmax-readout (a trained "
                                      "linear softmax read-out of the last hidden layer, "
                                      "outside the energy; T = 0 only).",
                                      rich_help_panel=M)] = "squared-error",
    dropout: Annotated[float, typer.Option(help="Drop each hidden unit with this probability "
                       "per sample and batch, inside the energy (the same units in the free and "
                       "nudged phases).", rich_help_panel=M)] = 0.0,
    epochs: Annotated[int | None, typer.Option(help="Training epochs (default 30 at T = 0, 25 "
                      "with a Monte-Carlo sampler, 15 for path-integral).",
                      rich_help_panel=O)] = None,
    batch_size: Annotated[int, typer.Option(help="Mini-batch size.", rich_help_panel=O)] = 32,
    optimizer: Annotated[str, typer.Option(help=f"Optimizer: {', '.join(OPTIMIZERS)}.",
                                           rich_help_panel=O)] = "adam",
    lr: Annotated[float, typer.Option(help="Learning rate.", rich_help_panel=O)] = 2e-3,
    layer_lrs: Annotated[str | None, typer.Option(help="Per-layer learning rates, comma-"
                         "separated: one per weight matrix from the input (with the biases it "
                         "feeds), then the read-out's; overrides --lr.",
                         rich_help_panel=O)] = None,
    momentum: Annotated[float, typer.Option(help="SGD momentum.", rich_help_panel=O)] = 0.9,
    weight_decay: Annotated[float, typer.Option(help="Weight decay.",
                                                rich_help_panel=O)] = 0.0,
    schedule: Annotated[str, typer.Option(help=f"LR schedule: {', '.join(SCHEDULES)}.",
                                          rich_help_panel=O)] = "cosine",
    warmup_epochs: Annotated[float, typer.Option(help="Linear learning-rate warm-up over this "
                             "many epochs (per batch).", rich_help_panel=O)] = 0.0,
    ema_decay: Annotated[float, typer.Option(help="Evaluate an exponential moving average of "
                         "the weights with this decay per step (e.g. 0.999; 0 = off); the "
                         "online weights' test metrics are kept as test_*_online.",
                         rich_help_panel=O)] = 0.0,
    seed: Annotated[int, typer.Option(help="Seed of every random number.",
                                      rich_help_panel=R)] = 0,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda[:N].",
                                        rich_help_panel=R)] = "auto",
    dtype: Annotated[str, typer.Option(help="float32 or float64.",
                                       rich_help_panel=R)] = "float32",
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

    if path_integral:
        estimator = "path-integral"
    try:
        cfg = TrainConfig(
            dataset=dataset, data_dir=None if data_dir is None else str(data_dir),
            limit_train=limit_train, limit_test=limit_test, hidden=_hidden(hidden),
            sizes=None if sizes is None else _hidden(sizes),
            activation=activation, energy=energy, binary=binary, cost=cost, dropout=dropout,
            estimator=estimator,
            beta=beta,
            beta_schedule=beta_schedule, beta_start=beta_start, beta_end=beta_end,
            nodes=nodes, temperature=temperature, sampler=sampler, steps=steps,
            nudged_steps=nudged_steps, burn_in=burn_in, chains=chains, step_size=step_size, tol=tol,
            coupled=coupled, rao_blackwell=rao_blackwell, conditional=conditional,
            standardize="global" if standardize_global else standardize,
            hflip=hflip, translate=translate,
            lipschitz=lipschitz,
            epochs=epochs, batch_size=batch_size, optimizer=optimizer, lr=lr, momentum=momentum,
            weight_decay=weight_decay, schedule=schedule, warmup_epochs=warmup_epochs,
            ema_decay=ema_decay,
            layer_lrs=None if layer_lrs is None else _floats(layer_lrs, "--layer-lrs"),
            seed=seed, device=device, dtype=dtype,
        ).resolved()
        if out_path is None:
            out_path = Path("runs") / f"{cfg.dataset}-{cfg.estimator}.nc"
            out_path.parent.mkdir(parents=True, exist_ok=True)
        if not quiet:
            out.print(f"[bold]thermoep train[/] {cfg.dataset}: {cfg.estimator} β={cfg.beta} "
                      f"T={cfg.temperature} sampler={cfg.sampler} hidden={list(cfg.hidden)} "
                      f"epochs={cfg.epochs}")
        ds = experiment.run(cfg, out=out_path, checkpoint_every=checkpoint_every,
                            keep_checkpoints=keep_checkpoints, resume=resume,
                            quiet=quiet)
    except TrainingDiverged as exc:
        fail(f"{exc}; the last good checkpoint (if any) is kept")
    except USER_ERRORS as exc:
        fail(exc)
    if not quiet:
        acc = ds["test_accuracy"].values
        out.print(f"final test accuracy {acc[-1]:.2%} (best {acc.max():.2%}); results: {out_path}")

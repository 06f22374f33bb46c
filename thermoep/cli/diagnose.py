"""``thermoep diagnose snr | alignment | chains``: parse options, call thermoep.diagnostics.

Each command builds the default diagnostic problem (a briefly trained LayeredHopfield on a fixed
batch of the embedded digits), runs one diagnostic over a log-spaced β grid, prints a short table
and writes the Dataset (.nc) and its plot (.png) to ``--out``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.table import Table

from .common import USER_ERRORS, _hidden, app, fail, load_observer, out

diagnose_app = typer.Typer(
    help="Diagnostics of the estimators: SNR of Δs vs β (independent vs coupled chains), "
         "gradient alignment vs β or over training, chain statistics (ESS, R-hat).",
    no_args_is_help=True,
)
app.add_typer(diagnose_app, name="diagnose")

DEFAULT_BETAS = "0.001,0.00316,0.01,0.0316,0.1,0.316,1"
P, S, R = "Problem", "Sampler", "Run"

Betas = Annotated[str, typer.Option(help="Comma-separated nudges β (log-spaced by default).",
                                    rich_help_panel=R)]
Temperature = Annotated[float, typer.Option(help="Temperature T of the Monte-Carlo sampler "
                                            "(0: deterministic relaxation).", rich_help_panel=S)]
Chains = Annotated[int, typer.Option(help="Chains per input.", rich_help_panel=S)]
Steps = Annotated[int, typer.Option(help="Markov-chain steps per phase (burn-in included).",
                                    rich_help_panel=S)]
BurnIn = Annotated[int, typer.Option(help="Discarded steps per phase.", rich_help_panel=S)]
StepSize = Annotated[float, typer.Option(help="Langevin step size.", rich_help_panel=S)]
Mala = Annotated[bool, typer.Option("--mala/--ula", help="Metropolis-adjusted (MALA) or "
                                    "unadjusted (ULA) Langevin.", rich_help_panel=S)]
Dataset = Annotated[str, typer.Option(help="Dataset (digits is embedded).", rich_help_panel=P)]
DataDir = Annotated[Path | None, typer.Option(help="Directory with the dataset's files.",
                                              rich_help_panel=P)]
Hidden = Annotated[str, typer.Option(help="Hidden layer sizes, comma-separated.",
                                     rich_help_panel=P)]
Batch = Annotated[int, typer.Option(help="Size of the fixed diagnostic batch.",
                                    rich_help_panel=P)]
TrainEpochs = Annotated[int, typer.Option(help="Epochs of centered EP (T = 0) before measuring "
                                          "(0: at initialisation).", rich_help_panel=P)]
Seed = Annotated[int, typer.Option(help="Seed of the model, the data split and the chains.",
                                   rich_help_panel=R)]
Out = Annotated[Path | None, typer.Option("--out", help="Results file (netCDF; default "
                                          "runs/diagnose-<command>.nc); the plot goes next to "
                                          "it (.png).", rich_help_panel=R)]


def _betas(text: str) -> list[float]:
    try:
        betas = [float(t) for t in text.replace(" ", "").split(",") if t]
    except ValueError:
        raise typer.BadParameter(f"expected comma-separated numbers like 0.01,0.1,1, got "
                                 f"{text!r}") from None
    if not betas:
        raise typer.BadParameter("--betas needs at least one value")
    return betas


def _out_path(path: Path | None, name: str) -> Path:
    from .. import results

    if path is None:
        path = Path("runs") / f"diagnose-{name}.nc"
        path.parent.mkdir(parents=True, exist_ok=True)
    results.check_writable(path)
    results.check_writable(path.with_suffix(".png"))
    return path


def _problem(dataset, data_dir, hidden, batch, train_epochs, seed):
    from ..diagnostics import diagnostic_problem

    return diagnostic_problem(dataset=dataset, data_dir=None if data_dir is None else
                              str(data_dir), hidden=_hidden(hidden), batch=batch,
                              train_epochs=train_epochs, seed=seed)


def _generator(seed: int):
    import torch

    return torch.Generator().manual_seed(seed)


def _save(ds, path: Path, problem: dict) -> Path:
    """Write the .nc then the .png; a failed plot leaves no result file behind."""
    import json

    from .. import results
    from ..diagnostics import plot

    ds.attrs["problem"] = json.dumps(problem)
    results.write(ds, path)
    png = path.with_suffix(".png")
    try:
        plot(ds, png)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return png


def _fmt(v: float, digits: int = 3) -> str:
    if isinstance(v, float) and math.isnan(v):
        return "–"
    if isinstance(v, float) and math.isinf(v):
        return "∞" if v > 0 else "−∞"
    return f"{v:.{digits}g}"


def _table(title: str, columns: list[str], rows: list[list[str]]) -> None:
    table = Table(title=title)
    for c in columns:
        table.add_column(c, justify="right")
    for r in rows:
        table.add_row(*r)
    out.print(table)


def _print(title: str, columns: list[str], rows: list[list[str]], path: Path, png: Path) -> None:
    _table(title, columns, rows)
    out.print(f"results: {path}  plot: {png}")


@diagnose_app.command()
def snr(
    betas: Betas = DEFAULT_BETAS,
    temperature: Temperature = 0.01,
    chains: Chains = 16,
    steps: Steps = 200,
    burn_in: BurnIn = 50,
    step_size: StepSize = 0.2,
    mala: Mala = False,
    dataset: Dataset = "digits",
    data_dir: DataDir = None,
    hidden: Hidden = "32",
    batch: Batch = 64,
    train_epochs: TrainEpochs = 2,
    seed: Seed = 0,
    out_path: Out = None,
) -> None:
    """SNR of Δs = s_β − s_0 and the standard error of the finite-nudge gradient vs β, for
    independent and coupled chains (ep-without-limits Fig. 1B). At T = 0 the SNR is infinite."""
    from .. import diagnostics as dg

    grid = _betas(betas)
    try:
        path = _out_path(out_path, "snr")
        problem = _problem(dataset, data_dir, hidden, batch, train_epochs, seed)
        sampler = dg.make_sampler(temperature, metropolis=mala, steps=steps, burn_in=burn_in,
                                  chains=chains, step_size=step_size)
        energy, cost, x, y = problem
        gen = _generator(seed)
        if getattr(sampler, "deterministic", False):
            ds = dg.state_snr(energy, cost, x, y, sampler, grid, generator=gen)
        else:
            ds = dg.coupling_comparison(energy, cost, x, y, sampler, grid, generator=gen)
        png = _save(ds, path, problem.config)
    except USER_ERRORS as exc:
        fail(exc)
    if "coupling" in ds.dims:
        cols = ["β", "SNR indep.", "SNR coupled", "rel. SE indep.", "rel. SE coupled"]
        rows = [[_fmt(b),
                 *(_fmt(float(ds["snr"].sel(coupling=c, beta=b))) for c in ds["coupling"].values),
                 *(_fmt(float(ds["grad_rel_se"].sel(coupling=c, beta=b)))
                   for c in ds["coupling"].values)]
                for b in ds["beta"].values]
    else:
        cols = ["β", "SNR", "‖Δs‖", "rel. SE"]
        rows = [[_fmt(b), _fmt(float(ds["snr"].sel(beta=b))),
                 _fmt(float(ds["delta_norm"].sel(beta=b))),
                 _fmt(float(ds["grad_rel_se"].sel(beta=b)))] for b in ds["beta"].values]
    _print(f"SNR of Δs (T={temperature}, {chains} chains)", cols, rows, path, png)


@diagnose_app.command()
def alignment(
    betas: Betas = DEFAULT_BETAS,
    estimators: Annotated[str, typer.Option(help="Comma-separated estimators: one-sided, "
                          "negative, centered (relaxation, T = 0), finite-nudge, path-integral "
                          "(Langevin).", rich_help_panel=R)] =
    "one-sided,centered,finite-nudge,path-integral",
    budget: Annotated[int, typer.Option(help="Budget multiple of the reference estimate of "
                      "∇L_β (chains, with common random numbers; relaxation steps).",
                      rich_help_panel=R)] = 8,
    nodes: Annotated[int, typer.Option(help="Gauss–Legendre nodes of the path integral.",
                                       rich_help_panel=R)] = 4,
    relax_steps: Annotated[int, typer.Option(help="Relaxation steps of the T = 0 estimators.",
                                             rich_help_panel=S)] = 100,
    checkpoints: Annotated[list[Path] | None, typer.Option(help="Per-epoch checkpoints (or a "
                           "run's .ckpt / a directory) from `thermoep train --checkpoint-every 1 "
                           "--keep-checkpoints`: cosine of std/cep with BPTT per epoch instead.",
                           rich_help_panel=R)] = None,
    temperature: Temperature = 0.01,
    chains: Chains = 8,
    steps: Steps = 200,
    burn_in: BurnIn = 50,
    step_size: StepSize = 0.2,
    mala: Mala = False,
    dataset: Dataset = "digits",
    data_dir: DataDir = None,
    hidden: Hidden = "32",
    batch: Batch = 64,
    train_epochs: TrainEpochs = 2,
    seed: Seed = 0,
    out_path: Out = None,
) -> None:
    """Cosine of each estimator's gradient with ∇L_sup (implicit/BPTT) and with the ∇L_β it
    targets, over β (ep-without-limits Fig. 1A); with --checkpoints, of std and cep EP with BPTT
    over training (hybrid-ep App. B)."""
    from .. import diagnostics as dg
    from ..samplers import Relaxation

    grid = _betas(betas)
    names = [n for n in estimators.replace(" ", "").split(",") if n]
    try:
        path = _out_path(out_path, "alignment")
        if checkpoints:
            files = [f for c in checkpoints for f in dg.find_epoch_checkpoints(c)]
            ds = dg.alignment_over_training(files, batch=batch)
            setup = {"checkpoints": [str(f) for f in files]}
        else:
            problem = _problem(dataset, data_dir, hidden, batch, train_epochs, seed)
            sampler = dg.make_sampler(temperature, metropolis=mala, steps=steps,
                                      burn_in=burn_in, chains=chains, step_size=step_size,
                                      relax_steps=relax_steps)
            energy, cost, x, y = problem
            ds = dg.gradient_alignment(energy, cost, x, y, grid, estimators=names,
                                       sampler=sampler, relaxation=Relaxation(steps=relax_steps),
                                       nodes=nodes, budget=budget, generator=_generator(seed))
            setup = problem.config
        png = _save(ds, path, setup)
    except USER_ERRORS as exc:
        fail(exc)
    if checkpoints:
        cos = ds["cos_bptt"].mean("seed")
        rows = [[str(int(e)), f"{float(cos.sel(estimator='std', epoch=e)):.4f}",
                 f"{float(cos.sel(estimator='cep', epoch=e)):.4f}"] for e in ds["epoch"].values]
        _print("cosine with BPTT over training", ["epoch", "std", "cep"], rows, path, png)
        return
    cols = ["β", *(f"{n} (sup / L_β)" for n in ds["estimator"].values)]
    rows = [[_fmt(b), *(f"{float(ds['cos_sup'].sel(estimator=n, beta=b)):.3f} / "
                        f"{float(ds['cos_target'].sel(estimator=n, beta=b)):.3f}"
                        for n in ds["estimator"].values)] for b in ds["beta"].values]
    _print(f"cosine with ∇L_sup / ∇L_β (T={temperature} for the Monte-Carlo estimators)",
           cols, rows, path, png)


@diagnose_app.command()
def chains(
    betas: Betas = DEFAULT_BETAS,
    estimator: Annotated[str, typer.Option(help="Estimator whose phases are summarised.",
                                           rich_help_panel=R)] = "finite-nudge",
    max_lag: Annotated[int, typer.Option(help="Largest autocorrelation lag kept.",
                                         rich_help_panel=R)] = 30,
    temperature: Temperature = 0.01,
    chains: Chains = 8,
    steps: Steps = 200,
    burn_in: BurnIn = 50,
    step_size: StepSize = 0.2,
    mala: Annotated[bool, typer.Option("--mala/--ula", help="Metropolis-adjusted (MALA, "
                    "reports acceptance) or unadjusted Langevin.", rich_help_panel=S)] = True,
    observer: Annotated[list[str] | None, typer.Option(
        "--observer", help="An observer of your own in every phase (repeatable): "
        "package.module:Name or path/to/file.py:Name, an Observer class or a zero-argument "
        "factory. A per-chain trace [chains, samples] gets its ESS and R-hat; other numbers "
        "are written to the results.", rich_help_panel=R)] = None,
    dataset: Dataset = "digits",
    data_dir: DataDir = None,
    hidden: Hidden = "32",
    batch: Batch = 64,
    train_epochs: TrainEpochs = 2,
    seed: Seed = 0,
    out_path: Out = None,
) -> None:
    """ESS, split R-hat, autocorrelation time and acceptance of the cost/energy traces of every
    phase (free and nudged) over β, and of the traces of --observer's; at T = 0 the relaxation
    residual."""
    from .. import diagnostics as dg

    grid = _betas(betas)
    try:
        observers = [load_observer(spec) for spec in observer or []]
        path = _out_path(out_path, "chains")
        problem = _problem(dataset, data_dir, hidden, batch, train_epochs, seed)
        sampler = dg.make_sampler(temperature, metropolis=mala, steps=steps, burn_in=burn_in,
                                  chains=chains, step_size=step_size)
        energy, cost, x, y = problem
        ds = dg.chain_diagnostics(energy, cost, x, y, sampler, grid, estimator=estimator,
                                  max_lag=max_lag, observers=observers,
                                  generator=_generator(seed))
        png = _save(ds, path, problem.config)
    except USER_ERRORS as exc:
        fail(exc)
    phases = list(ds["phase"].values)

    def ess_rhat(d, trace):
        row = []
        for ph in phases:
            row += [_fmt(float(d["ess"].sel(phase=ph, trace=trace))),
                    _fmt(float(d["rhat"].sel(phase=ph, trace=trace)), 4)]
        return row

    cols = ["β"]
    for ph in phases:
        cols += [f"{ph} ESS", f"{ph} R̂"]
    rows = []
    for b in ds["beta"].values:
        d = ds.sel(beta=b)
        row = [_fmt(b), *ess_rhat(d, "cost")]
        row += [_fmt(float(np.nanmean(d["acceptance"].values))
                     if np.isfinite(d["acceptance"].values).any() else math.nan),
                _fmt(float(np.nanmax(d["residual"].values))
                     if np.isfinite(d["residual"].values).any() else math.nan)]
        rows.append(row)
    _table(f"chain statistics of the cost trace ({estimator}, T={temperature})",
           [*cols, "acceptance", "residual"], rows)
    observed = [v for v in ds.data_vars if "observer" in ds[v].attrs]
    for name in observed:
        if ds[name].attrs["kind"] == "trace":
            by = ds[name].attrs["observer"]
            _table(f"chain statistics of the {name} trace" + ("" if by == name else
                                                              f" (observer {by})"),
                   cols, [[_fmt(b), *ess_rhat(ds.sel(beta=b), name)] for b in ds["beta"].values])
    values = [f"{v} ({', '.join(ds[v].dims)})" for v in observed
              if ds[v].attrs["kind"] != "trace"]
    if values:
        out.print(f"observed values in the results: {'; '.join(values)}")
    out.print(f"results: {path}  plot: {png}")

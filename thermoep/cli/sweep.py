"""``thermoep sweep``: a grid of training runs from a sweep file or options."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..sweep import BACKENDS
from .common import USER_ERRORS, app, fail, out
from .train import assignments, with_flags


@app.command()
def sweep(
    config: Annotated[Path | None, typer.Option(help="Sweep file (JSON with 'base' and 'grid'), "
                                                     "e.g. benchmarks/fmnist_hybrid.json.")] = None,
    estimator: Annotated[list[str] | None, typer.Option("--estimator", "-e",
                         help="Grid values of the estimator (repeat the option).")] = None,
    beta: Annotated[list[float] | None, typer.Option("--beta", "-b",
                    help="Grid values of β (repeat).")] = None,
    seed: Annotated[list[int] | None, typer.Option("--seed", "-s",
                    help="Grid values of the seed (repeat).")] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="Base setting KEY=VALUE "
                    "(any config key, e.g. sampler.chains=8 or epochs=5; VALUE parsed as JSON "
                    "when it can be), repeat.")] = None,
    out_path: Annotated[Path, typer.Option("--out", help="Results file.")] = Path(
        "runs/sweep.nc"),
    backend: Annotated[str, typer.Option(
        help=f"Where the runs execute: {', '.join(BACKENDS)} (local processes, or one Ray task "
             "per run: pip install 'thermoep\\[ray]').")] = "local",
    workers: Annotated[int | None, typer.Option(
        help="local: parallel processes, 1 torch thread each (default 1: this process, "
             "with torch's threads; OMP_NUM_THREADS=1 pins it to one).")] = None,
    address: Annotated[str | None, typer.Option(
        help="ray: the cluster to join, 'auto' or HOST:PORT; default: start a local Ray "
             "instance for this sweep.")] = None,
    cpus_per_run: Annotated[float | None, typer.Option(
        help="ray: CPUs (and torch threads) per run; default 1.")] = None,
    gpus_per_run: Annotated[float | None, typer.Option(
        help="ray: GPUs per run, a fraction shares one; default 0.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
) -> None:
    """Train every combination of estimator × β × seed (× any grid key of the sweep file) and
    write one xarray Dataset with those dims; `thermoep report` plots accuracy vs β."""
    from .. import sweep as sweeping

    try:
        base, grid = sweeping.load_spec(config) if config is not None else ({}, {})
        overrides = assignments(set_)
        for key, values in (("estimator", estimator), ("beta", beta), ("seed", seed)):
            if values:
                grid[key] = list(values)
        if out_path == Path("runs/sweep.nc"):
            out_path.parent.mkdir(parents=True, exist_ok=True)

        def progress(i, n, values, reused):
            if not quiet:
                point = " ".join(f"{k}={v}" for k, v in values.items())
                out.print(f"run {i}/{n} {'reused' if reused else 'done'}: {point}",
                          highlight=False, markup=False)

        # only the options given, so that the backend refuses one it does not take
        options = {k: v for k, v in (("workers", workers), ("address", address),
                                     ("cpus_per_run", cpus_per_run),
                                     ("gpus_per_run", gpus_per_run)) if v is not None}
        ds = sweeping.sweep(base, grid, out=out_path, backend=backend, progress=progress,
                            overrides=overrides, **options)
    except USER_ERRORS as exc:
        fail(with_flags(exc))
    except ImportError as exc:  # the backend's package is missing
        fail(exc)
    if not quiet:
        final = ds["test_accuracy"].isel(epoch=-1)
        out.print(f"{final.size} runs; final test accuracy {float(final.min()):.2%} .. "
                  f"{float(final.max()):.2%}; results: {out_path}")

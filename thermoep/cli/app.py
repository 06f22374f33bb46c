"""``thermoep`` command: train, report (and, as they land, diagnose and sweep).

Each command turns its options into library calls; errors in user input become one red line on
stderr and exit code 2, and no partial result file is left behind.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from .. import __version__

app = typer.Typer(
    name="thermoep",
    help="Thermodynamic and deterministic Equilibrium Propagation: train energy-based networks "
         "without backprop, compare gradient estimators, inspect samplers.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True)
out = Console()

USER_ERRORS = (ValueError, TypeError, FileNotFoundError)


def fail(exc: BaseException) -> None:
    """One red line and a non-zero exit."""
    err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
    raise typer.Exit(code=2)


def _version(value: bool) -> None:
    if value:
        out.print(f"thermoep {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """Thermodynamic and deterministic Equilibrium Propagation."""


def _hidden(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(t) for t in text.replace(" ", "").split(",") if t)
    except ValueError:
        raise typer.BadParameter(f"expected comma-separated layer sizes like 256,256, got "
                                 f"{text!r}") from None
    if not sizes or min(sizes) < 1:
        raise typer.BadParameter(f"hidden layer sizes must be positive ints, got {text!r}")
    return sizes


def _floats(text: str, what: str) -> tuple[float, ...]:
    try:
        values = tuple(float(t) for t in text.replace(" ", "").split(",") if t)
    except ValueError:
        raise typer.BadParameter(f"expected comma-separated numbers for {what}, got "
                                 f"{text!r}") from None
    if not values:
        raise typer.BadParameter(f"{what}: give at least one number")
    return values


from . import diagnose as _diagnose  # noqa: E402,F401
from . import report as _report  # noqa: E402,F401  (registers commands)
from . import sweep as _sweep  # noqa: E402,F401
from . import train as _train  # noqa: E402,F401


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        err.print("[bold red]interrupted[/]")
        sys.exit(130)


__all__ = ["app", "fail", "main", "Path"]

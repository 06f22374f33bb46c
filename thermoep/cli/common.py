"""What every command shares: the Typer application, the consoles, the one-line error."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from .._version import __version__

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


__all__ = ["USER_ERRORS", "app", "err", "fail", "out"]

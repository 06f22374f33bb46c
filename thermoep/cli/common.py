"""What every command shares: the Typer application, the consoles, the one-line error, and the
import of a user's object from a ``module:Name`` spec."""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from contextlib import contextmanager
from pathlib import Path
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


def load_observer(spec: str):
    """The observer that ``spec`` names: ``package.module:Name`` or ``path/to/file.py:Name``,
    where Name is an Observer subclass (called with no arguments), a zero-argument factory
    returning an observer, or an observer object. Every failure is a one-line ValueError.

    A module is looked up on ``sys.path`` and in the working directory; a file is run as a
    module of its own (its directory on the path while it is imported, so it can import its
    neighbours)."""
    where = f"--observer {spec!r}"
    source, colon, attr = spec.rpartition(":")
    if not colon or not source.strip() or not attr.strip():
        raise ValueError(f"{where}: expected package.module:Name or path/to/file.py:Name")
    if not attr.isidentifier():
        raise ValueError(f"{where}: {attr!r} is not a Python name")
    module = _import(source, where)
    if not hasattr(module, attr):
        raise ValueError(f"{where}: {source} has no {attr!r}"
                         f"{_candidates(module)}")
    return _observer_from(getattr(module, attr), attr, where)


def _a(noun: str) -> str:
    return f"{'an' if noun[:1].lower() in 'aeiou' else 'a'} {noun}"


def _is_observer(obj) -> bool:
    return not isinstance(obj, type) and isinstance(getattr(obj, "name", None), str) and all(
        callable(getattr(obj, m, None)) for m in ("start", "update", "finish"))


def _candidates(module) -> str:
    from ..observers import Observer

    names = sorted(k for k, v in vars(module).items() if not k.startswith("_") and v is not
                   Observer and ((isinstance(v, type) and issubclass(v, Observer))
                                 or isinstance(v, Observer)))
    return f" (its observers: {', '.join(names)})" if names else ""


def _observer_from(obj, attr: str, where: str):
    from ..observers import Observer

    if isinstance(obj, Observer) or _is_observer(obj):
        return obj
    if obj is Observer:
        raise ValueError(f"{where}: Observer is the base class, which observes nothing; name a "
                         "subclass of it")
    if isinstance(obj, type):
        if not (issubclass(obj, Observer) or all(callable(getattr(obj, m, None))
                                                 for m in ("start", "update", "finish"))):
            raise ValueError(f"{where}: {attr} is a class but not an observer (subclass "
                             "thermoep.observers.Observer: start, update, finish)")
    elif not callable(obj):
        raise ValueError(f"{where}: {attr} is {_a(type(obj).__name__)}, not an observer class "
                         "or a factory of one")
    try:
        made = obj()
    except Exception as exc:
        raise ValueError(f"{where}: {attr}() failed ({type(exc).__name__}: {exc}); an observer "
                         "class or factory must take no arguments") from None
    if not _is_observer(made):
        raise ValueError(f"{where}: {attr}() returned {_a(type(made).__name__)}, not an "
                         "observer (thermoep.observers.Observer: start, update, finish and a "
                         "name)")
    return made


def _import(source: str, where: str):
    """The module ``source`` names: a dotted module or a ``.py`` file."""
    is_file = source.endswith(".py") or "/" in source or os.sep in source
    if is_file:
        path = Path(source).expanduser()
        if not path.is_file():
            raise ValueError(f"{where}: no file {source}")
        folder, name = str(path.resolve().parent), f"_thermoep_user_{path.stem}"
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise ValueError(f"{where}: {source} cannot be imported as a Python module")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # what dataclasses and pickling look a class's module up in
        try:
            with _on_path(folder):
                spec.loader.exec_module(module)
        except (Exception, SystemExit) as exc:
            del sys.modules[name]
            raise ValueError(f"{where}: importing {source} failed "
                             f"({type(exc).__name__}: {exc})") from None
        return module
    if not all(part.isidentifier() for part in source.split(".")):
        raise ValueError(f"{where}: {source!r} is neither a module name (package.module) nor a "
                         ".py file")
    try:
        with _on_path(os.getcwd()):
            return importlib.import_module(source)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (source == exc.name or source.startswith(exc.name + ".")):
            raise ValueError(f"{where}: no module named {exc.name!r} (a file takes its path: "
                             "path/to/file.py:Name)") from None
        raise ValueError(f"{where}: importing {source} failed "
                         f"(ModuleNotFoundError: {exc})") from None
    except (Exception, SystemExit) as exc:
        raise ValueError(f"{where}: importing {source} failed "
                         f"({type(exc).__name__}: {exc})") from None


@contextmanager
def _on_path(folder: str):
    """``folder`` first on ``sys.path`` inside the block (and only there)."""
    added = folder not in sys.path
    if added:
        sys.path.insert(0, folder)
    try:
        yield
    finally:
        if added and folder in sys.path:
            sys.path.remove(folder)


__all__ = ["USER_ERRORS", "app", "err", "fail", "load_observer", "out"]

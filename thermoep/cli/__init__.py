"""Command-line interface (Typer): parsing only; every command calls the library."""

from .app import app, main

__all__ = ["app", "main"]

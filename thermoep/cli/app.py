"""``thermoep`` command: train, sweep, diagnose, report.

Each command turns its options into library calls; errors in user input become one red line on
stderr and exit code 2, and no partial result file is left behind. The commands register
themselves on the application of :mod:`thermoep.cli.common` when imported here.
"""

from __future__ import annotations

import sys

from . import diagnose as _diagnose  # noqa: F401  (registers its commands)
from . import report as _report  # noqa: F401
from . import sweep as _sweep  # noqa: F401
from . import train as _train  # noqa: F401
from .common import app, err


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        err.print("[bold red]interrupted[/]")
        sys.exit(130)


__all__ = ["app", "main"]

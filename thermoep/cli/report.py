"""``thermoep report RESULTS.nc``: print the table and draw the PNG plots."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from .app import USER_ERRORS, app, fail, out


@app.command()
def report(
    path: Annotated[Path, typer.Argument(help="A results file written by train, sweep or "
                                              "diagnose.")],
    png: Annotated[Path | None, typer.Option(help="Where to write the plot (default: next to "
                                                  "the results file, .png).")] = None,
    rows: Annotated[int, typer.Option(help="Print at most this many rows (last ones).")] = 40,
) -> None:
    """Print a results file's table and write its plot (accuracy/loss vs epoch, accuracy vs β
    per estimator for sweeps, curves for diagnostics)."""
    from .. import plots, results

    try:
        ds = results.load(path)
        table_rows = results.summary_table(ds)
        png = path.with_suffix(".png") if png is None else png
        plots.plot_any(ds, png)
    except USER_ERRORS as exc:
        fail(exc)
    title = ds.attrs.get("name", path.name)
    table = Table(title=f"{title} ({path})")
    cols = [c for c in (table_rows[0] if table_rows else {})
            if (c not in HIDDEN or c in ds.dims or "epoch" not in ds.dims)
            and any(not _isnan(r.get(c)) for r in table_rows)]
    for c in cols:
        table.add_column(LABELS.get(c, c), justify="right")
    for r in table_rows[-rows:]:
        table.add_row(*(_fmt(c, r[c]) for c in cols))
    out.print(table)
    out.print(f"plot: {png}")


LABELS = {"train_accuracy": "train acc", "test_accuracy": "test acc", "train_loss": "loss",
          "nudged_phases": "nudged", "wall_seconds": "seconds"}
#: constant or bulky columns left to the file (xarray shows them all)
HIDDEN = {"lr", "beta", "residual", "acceptance", "test_loss"}


def _isnan(v) -> bool:
    return isinstance(v, float) and math.isnan(v)


def _fmt(name: str, v) -> str:
    if isinstance(v, float):
        if math.isnan(v):
            return "–"
        if "accuracy" in name:
            return f"{v:.2%}"
        return f"{v:.4g}"
    return str(v)

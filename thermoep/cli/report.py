"""``thermoep report RESULTS.nc [MORE.nc ...]``: print the table and draw the PNG plot; with
several files, compare their runs (final metrics, test-accuracy curves overlaid)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import typer
from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Text

from .common import USER_ERRORS, app, fail, out


@app.command()
def report(
    paths: Annotated[list[Path], typer.Argument(help="Results files written by train, sweep or "
                                                     "diagnose; several: compare their runs.")],
    png: Annotated[Path | None, typer.Option(help="Where to write the plot (default: next to "
                                                  "the (first) results file, .png).")] = None,
    rows: Annotated[int, typer.Option(help="Print at most this many rows (last ones).")] = 40,
) -> None:
    """Print a results file's table and write its plot (accuracy/loss vs epoch, and the
    objective J_β when the run recorded it; accuracy vs β per estimator for sweeps, curves for
    diagnostics). Given several files, print one row of
    final metrics per run (each grid point of a sweep is a run) and overlay their test-accuracy
    curves in one figure."""
    if len(paths) == 1:
        _report_one(paths[0], png, rows)
    else:
        _compare(paths, png)


def _report_one(path: Path, png: Path | None, rows: int) -> None:
    from .. import plots, results

    try:
        ds = results.load(path)
        table_rows = results.summary_table(ds)
        png = path.with_suffix(".png") if png is None else png
        plots.plot_any(ds, png)
    except USER_ERRORS as exc:
        fail(exc)
    title = ds.attrs.get("name", path.name)
    cols = [c for c in (table_rows[0] if table_rows else {})
            if (c not in HIDDEN or c in ds.dims or "epoch" not in ds.dims)
            and any(not _isnan(r.get(c)) for r in table_rows)]
    keys = [c for c in cols if c in ds.dims]
    _print_table(f"{title} ({path})", keys, [c for c in cols if c not in keys],
                 table_rows[-rows:])
    out.print(f"plot: {png}", markup=False, highlight=False, soft_wrap=True)


def _labels(paths: list[Path]) -> list[str]:
    """File stems when they tell the files apart, else the paths as given."""
    stems = [p.stem for p in paths]
    return stems if len(set(stems)) == len(stems) else [str(p) for p in paths]


@dataclass
class _Group:
    """Runs of one configuration that differ in their seed: drawn in one colour."""

    label: str
    members: list[str] = field(default_factory=list)
    seeds: list = field(default_factory=list)

    def legend(self) -> str:
        if len(self.members) < 2:
            return self.label
        return f"{self.label}, seeds {', '.join(str(s) for s in self.seeds)}"


def _compare_png(paths: list[Path]) -> Path:
    stems = [p.stem for p in paths]
    name = "-vs-".join(stems[:3]) + (f"-and-{len(stems) - 3}-more" if len(stems) > 3 else "")
    return paths[0].with_name(f"{name}.png")


def _compare(paths: list[Path], png: Path | None) -> None:
    from .. import plots, results

    try:
        seen: set[Path] = set()
        for path in paths:
            if path.resolve() in seen:
                raise ValueError(f"{path} is given twice; compare distinct results files")
            seen.add(path.resolve())
        runs: dict[str, object] = {}
        # seeds of one configuration are drawn as one group (its mean bold)
        groups: dict[str, _Group] = {}
        for label, path in zip(_labels(paths), paths, strict=True):
            ds = results.load(path)
            if "epoch" not in ds.dims:
                raise ValueError(f"{path}: a {ds.attrs.get('kind', 'diagnostic')} result "
                                 "without epochs; report compares training runs and sweeps, so "
                                 "report it on its own")
            for coords, run in results.split_runs(ds):
                grid = ", ".join(f"{d}={v}" for d, v in coords.items())
                name = f"{label} [{grid}]" if grid else label
                runs[name] = run
                rest = ", ".join(f"{d}={v}" for d, v in coords.items() if d != "seed")
                seed, key = results.run_seed(ds, coords), results.configuration_key(ds, coords)
                if seed is None or (key in groups and seed in groups[key].seeds):
                    key = f"{key} {name}"  # not a seed of that configuration: a run of its own
                group = groups.setdefault(key, _Group(f"{label} [{rest}]" if rest else label))
                group.members.append(name)
                group.seeds.append(seed)
        png = _compare_png(paths) if png is None else png
        legend: dict[str, list[str]] = {}
        for group in groups.values():
            text = group.legend()
            while text in legend:  # two groups, one label: keep both
                text += " (another)"
            legend[text] = group.members
        plots.plot_compare(runs, png, title=f"test accuracy of {len(runs)} runs",
                           groups=legend)
    except USER_ERRORS as exc:
        fail(exc)
    table_rows = [{"run": label, **results.final_metrics(run)} for label, run in runs.items()]
    cols = [c for c in COMPARE_COLUMNS if any(not _isnan(r.get(c, math.nan)) for r in table_rows)]
    _print_table(f"{len(runs)} runs from {len(paths)} files (final epoch)", ["run"], cols,
                 [{c: r.get(c, math.nan) for c in ["run", *cols]} for r in table_rows])
    out.print(f"plot: {png}", markup=False, highlight=False, soft_wrap=True)


LABELS = {"train_accuracy": "train acc", "test_accuracy": "test acc", "train_loss": "loss",
          "nudged_phases": "nudged", "wall_seconds": "seconds", "train_seconds": "train s",
          "test_accuracy_online": "online acc", "test_loss_online": "online loss",
          "best_test_accuracy": "best test acc", "objective": "J_β",
          "objective_se": "J_β SE"}
#: constant or bulky columns left to the file (xarray shows them all)
HIDDEN = {"lr", "beta", "residual", "acceptance", "test_loss"}
#: the comparison's columns, in order (train s: mean seconds of training per epoch)
COMPARE_COLUMNS = ("epochs", "test_accuracy", "best_test_accuracy", "train_accuracy",
                   "train_loss", "nudged_phases", "train_seconds", "wall_seconds")


def _print_table(title: str, keys: list[str], values: list[str], rows: list[dict]) -> None:
    """Print ``rows`` without cutting a cell: at full width when the output is not a terminal;
    on a terminal, as several tables, each repeating the ``keys`` columns, when one is too
    wide."""
    header = {c: LABELS.get(c, c) for c in [*keys, *values]}
    cells = [{c: _fmt(c, r[c]) for c in header} for r in rows]
    width = {c: max([cell_len(header[c]), *(cell_len(r[c]) for r in cells)]) + 3 for c in header}
    limit = out.width if out.is_terminal else math.inf
    groups: list[list[str]] = []
    for c in values:  # a table is 1 + Σ (cell + 2 padding + 1 border) wide
        if groups and 1 + sum(width[k] for k in [*keys, *groups[-1], c]) <= limit:
            groups[-1].append(c)
        else:
            groups.append([c])
    for i, group in enumerate(groups or [[]]):
        table = Table(title=Text(title) if i == 0 else None)  # Text: no markup in names
        for c in [*keys, *group]:
            table.add_column(header[c], justify="left" if c == "run" else "right",
                             no_wrap=True, overflow="fold")
        for r in cells:
            table.add_row(*(Text(r[c]) for c in [*keys, *group]))
        if out.is_terminal:  # a group too wide even alone folds its cells, never cuts them
            out.print(table)
        else:  # rich would squeeze the table into 80 columns (its width off a terminal)
            full = 1 + sum(width[c] for c in [*keys, *group])
            Console(file=out.file, width=max(full, out.width), no_color=out.no_color,
                    highlight=False).print(table)


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

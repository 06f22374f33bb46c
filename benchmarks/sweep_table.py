"""Markdown table of a sweep's results: final test accuracy (mean ± std over seeds) and nudged
phases per grid point, next to the paper's numbers when the sweep file lists them, plus a plot of
accuracy against compute (nudged phases).

    python benchmarks/sweep_table.py benchmarks/results/beta_schedules.nc \
        --config benchmarks/beta_schedules.json
Writes <results>.md and <results>.png beside the results file and prints the table.

The sweep file's "paper" entry maps a grid value (e.g. "centered"), or grid values joined by "/"
in grid order, numbers written as "%g" does (e.g. "1/finite-nudge" for β = 1.0), to
[accuracy %, std, nudged phases] (any prefix of that list) or to a text note. With an
``estimator`` dim that holds "centered", two more columns give each row's accuracy difference to
centered EP at the same other grid values, and its nudged phases as a share of centered's.
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from thermoep import results  # noqa: E402


def _fmt_value(v) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def _paper(paper: dict, combo: tuple):
    key = "/".join(_fmt_value(v) for v in combo)
    if key in paper:
        return paper[key]
    return next((paper[_fmt_value(v)] for v in combo if _fmt_value(v) in paper), None)


def _paper_text(ref) -> str:
    if ref is None:
        return "–"
    if isinstance(ref, str):
        return ref
    txt = f"{ref[0]:.2f} %"
    if len(ref) > 1:
        txt += f" ± {ref[1]:.2f}"
    if len(ref) > 2:
        txt += f", {ref[2]:,.0f} phases"
    return txt


def _markdown(head: list[str], rows: list[list[str]]) -> str:
    """A pipe table with every column padded to its widest cell: nothing is cut, and the
    columns line up in a terminal as well as in a markdown viewer."""
    widths = [max(len(cell) for cell in column) for column in zip(head, *rows, strict=True)]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(head), rule, *map(line, rows)])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("results")
    p.add_argument("--config", default=None, help="the sweep file (for the paper's numbers)")
    args = p.parse_args()
    ds = results.load(args.results)
    paper = json.loads(Path(args.config).read_text()).get("paper", {}) if args.config else {}
    acc = ds["test_accuracy"].isel(epoch=-1) * 100
    phases = ds["nudged_phases"].isel(epoch=-1)
    dims = [d for d in acc.dims if d != "seed"]
    anchor = "estimator" in dims and "centered" in ds["estimator"].values.tolist()
    head = [*dims, "test accuracy (mean ± std)", "per seed", "nudged phases"]
    if anchor:
        head += ["Δ vs centered (pt)", "phases / centered"]
    head.append("paper")
    table_rows = []
    points = []
    for combo in itertools.product(*(ds[d].values.tolist() for d in dims)):
        sel = dict(zip(dims, combo, strict=True))
        a = acc.sel(sel).values.ravel()
        keep = np.isfinite(a)
        a = a[keep]
        if len(a) == 0:
            continue
        n = phases.sel(sel).values.ravel()[keep]
        std = f" ± {a.std(ddof=1):.2f}" if len(a) > 1 else ""
        row = [*map(_fmt_value, combo), f"{a.mean():.2f} %{std}",
               ", ".join(f"{v:.2f}" for v in a),
               f"{np.mean(n):,.0f}"]
        if anchor:  # centered EP at the same values of the other grid dims
            ref = dict(sel, estimator="centered")
            ref_acc = float(acc.sel(ref).mean())
            ref_n = float(phases.sel(ref).mean())
            row += [f"{a.mean() - ref_acc:+.2f}", f"{np.mean(n) / ref_n:.0%}"]
        row.append(_paper_text(_paper(paper, combo)))
        table_rows.append(row)
        points.append(("/".join(map(_fmt_value, combo)) or "all", sel, float(np.mean(n)),
                       float(a.mean()), float(a.std(ddof=1)) if len(a) > 1 else 0.0))
    table = _markdown(head, table_rows)
    config = ds.attrs.get("epochs")
    text = (f"# {Path(args.results).stem}\n\nCommands: `thermoep sweep --config "
            f"{args.config} --out {args.results}` then `python benchmarks/sweep_table.py "
            f"{args.results} --config {args.config}`\n\n"
            + (f"Final test accuracy after {config} epochs; " if config else "")
            + "nudged phases are cumulative over training (mean over seeds).\n\n"
            f"{table}\n")
    out = Path(args.results).with_suffix(".md")
    out.write_text(text)
    fig, (ax, curves) = plt.subplots(1, 2, figsize=(11, 4.2))
    for label, sel, x, y, err in points:
        ax.errorbar(x, y, yerr=err, fmt="o", capsize=3, label=label)
        curve = ds["test_accuracy"].sel(sel) * 100
        if "seed" in curve.dims:
            curve = curve.mean("seed")
        curves.plot(ds["epoch"].values, curve.values, label=label)
    ax.set_xlabel("nudged phases (cumulative)")
    ax.set_ylabel("final test accuracy (%), mean ± std over seeds")
    ax.set_title(Path(args.results).stem)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    curves.set_xlabel("epoch")
    curves.xaxis.get_major_locator().set_params(integer=True)
    curves.set_ylabel("test accuracy (%), mean over seeds")
    curves.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out.with_suffix(".png"), dpi=120)
    print(text)


if __name__ == "__main__":
    main()

"""Markdown table of a sweep's results: final test accuracy (mean ± std over seeds) and nudged
phases per grid point, next to the paper's numbers when the sweep file lists them.

    python benchmarks/sweep_table.py benchmarks/results/beta_schedules.nc \
        --config benchmarks/beta_schedules.json
Writes <results>.md beside the results file and prints it.
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

import numpy as np

from thermoep import results


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("results")
    p.add_argument("--config", default=None, help="the sweep file (for the paper's numbers)")
    args = p.parse_args()
    ds = results.load(args.results)
    paper = json.loads(Path(args.config).read_text()).get("paper", {}) if args.config else {}
    acc = ds["test_accuracy"].isel(epoch=-1)
    phases = ds["nudged_phases"].isel(epoch=-1)
    dims = [d for d in acc.dims if d != "seed"]
    head = [*dims, "test accuracy (mean ± std)", "seeds", "nudged phases", "paper"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for combo in itertools.product(*(ds[d].values.tolist() for d in dims)):
        sel = dict(zip(dims, combo, strict=True))
        a = acc.sel(sel).values.ravel() * 100
        a = a[np.isfinite(a)]
        n = phases.sel(sel).values.ravel()
        ref = next((paper[str(v)] for v in combo if str(v) in paper), None)
        ref_txt = "–" if ref is None else (f"{ref[0]:.2f} %" + (f" ± {ref[1]:.2f}" if len(ref) > 1
                                                               else ""))
        std = f" ± {a.std(ddof=1):.2f}" if len(a) > 1 else ""
        lines.append("| " + " | ".join([*map(str, combo), f"{a.mean():.2f} %{std}", str(len(a)),
                                        f"{np.nanmean(n):.0f}", ref_txt]) + " |")
    table = "\n".join(lines)
    text = (f"# {ds.attrs.get('name', 'sweep')}\n\nCommands: `thermoep sweep --config "
            f"{args.config} --out {args.results}` then `python benchmarks/sweep_table.py "
            f"{args.results} --config {args.config}`\n\n{table}\n")
    out = Path(args.results).with_suffix(".md")
    out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()

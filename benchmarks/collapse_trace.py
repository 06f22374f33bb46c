"""Per-batch trace of a hybrid run: which member ran, the norm of its update, its cosine with the
other member's estimate on the same batch, the batch loss and the free phase's residual.

Used to find why some Fashion-MNIST hybrid runs collapse (every unit saturated, accuracy 10 %):
by default the table's settings with the 40 free steps and no tolerance that collapsed
(hybrid-cosine, seed 42, collapsing in epoch 2). Writes ``results/collapse_trace_<tag>.json`` and
``.png`` and prints the updates around the first free residual above 0.1.

    python benchmarks/collapse_trace.py --set steps=40 --set tol=0 --tag steps40_seed42
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import torch

from thermoep.config import RunConfig
from thermoep.experiment import run
from thermoep.objectives.hybrid import Hybrid

RESULTS = Path(__file__).parent / "results"


class _Enough(Exception):
    pass


def trace(cfg: RunConfig, batches: int) -> list[dict]:
    """Train ``cfg`` (a hybrid) for ``batches`` updates, recording each one."""
    rows: list[dict] = []
    call = Hybrid.__call__

    def traced(self, energy, cost, x, y, *, generator=None):
        g = call(self, energy, cost, x, y, generator=generator)
        std, acc = self._members()
        used_std = g.stats["used"] == "one-sided"
        other = (acc if used_std else std)(energy, cost, x, y, generator=generator)
        rows.append({"batch": len(rows), "used": g.stats["used"], "p_std": self.p_std,
                     "norm": float(torch.sqrt(sum(v.pow(2).sum() for v in g.values()))),
                     "cosine_other": float(g.cosine(other)), "loss": g.loss,
                     "free_residual": float(g.stats["free_residual"])})
        if len(rows) >= batches:
            raise _Enough
        return g

    Hybrid.__call__ = traced
    try:
        run(cfg, quiet=True)
    except _Enough:
        pass
    finally:
        Hybrid.__call__ = call
    return rows


def plot(rows: list[dict], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    b = [r["batch"] for r in rows]
    fig, ax = plt.subplots(4, 1, figsize=(9, 8), sharex=True)
    ax[0].plot(b, [r["loss"] for r in rows], lw=0.8)
    ax[0].set_ylabel("batch loss")
    ax[1].semilogy(b, [max(r["free_residual"], 1e-9) for r in rows], lw=0.8)
    ax[1].set_ylabel("free residual")
    ax[2].plot(b, [r["norm"] for r in rows], lw=0.8)
    ax[2].set_ylabel("‖update‖")
    ax[3].plot(b, [r["cosine_other"] for r in rows], lw=0.8)
    ax[3].set_ylabel("cos(std, centered)")
    ax[3].set_xlabel("SGD step")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="benchmarks/fmnist_hybrid.json")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=JSON",
                    help="override a config value, e.g. steps=40")
    ap.add_argument("--estimator", default="hybrid-cosine")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--batches", type=int, default=1000)
    ap.add_argument("--tag", default="steps40_seed42")
    args = ap.parse_args()
    base = json.loads(Path(args.config).read_text())["base"]
    sets = {k: json.loads(v) for k, v in (item.split("=", 1) for item in args.set)}
    cfg = RunConfig.from_dict(base).with_values(
        {**sets, "estimator": args.estimator, "seed": args.seed})
    rows = trace(cfg, args.batches)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"collapse_trace_{args.tag}.json"
    out.write_text(json.dumps({"config": cfg.to_dict(), "rows": rows}, indent=0))
    plot(rows, out.with_suffix(".png"), f"{args.estimator}, seed {args.seed}, {args.config}")
    first = next((i for i, r in enumerate(rows) if r["free_residual"] > 0.1), None)
    worst = max(range(len(rows)), key=lambda i: rows[i]["free_residual"])
    print(f"{len(rows)} updates traced; first free residual > 0.1 at step {first}, largest at "
          f"step {worst}")
    worst = worst if first is None else first
    print("step  used       ‖update‖  cos(other)  loss    free residual")
    for r in rows[max(worst - 5, 0):worst + 8]:
        cos = r["cosine_other"]
        print(f"{r['batch']:5d} {r['used'][:9]:10s} {r['norm']:8.3f}  "
              f"{'nan' if math.isnan(cos) else f'{cos:8.4f}'}  {r['loss']:6.3f}  "
              f"{r['free_residual']:.1e}")
    print(f"wrote {out} and {out.with_suffix('.png')}")


if __name__ == "__main__":
    main()

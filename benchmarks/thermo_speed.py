"""Thermodynamic EP against deterministic EP on the same network, batch and machine, in one run.

The Fashion-MNIST table of ep-without-limits: 784-256-10 tanh, batch 64, T = 0.001, β = 1.
Three training steps (estimator call, gradient write, Adam step), each timed over the same
``--batches`` real Fashion-MNIST batches after one warm-up batch:

- ``centered``: T = 0 centered EP, 30 free / 10 nudged relaxation steps (β = 0.5: at β = 1
  the negative nudge has no equilibrium);
- ``finite-nudge``: coupled ULA, 4 chains, 30 steps (10 burn-in), step 0.4 (the table's
  setting);
- ``finite-nudge-blocks``: the same with 12 steps (4 burn-in) at step 0.5 in blocks mode (the
  layers moved in turn, ``Langevin(mode="blocks")``; ``benchmarks/langevin_steps.py``: cosine
  0.9985 with the T → 0 limit at initialisation, free-phase cost on the trained network 0.0571
  against 0.0561 for 30 steps at 0.4);
- ``finite-nudge-blocks15``: blocks mode, 15 steps (5 burn-in) at step 0.5 (cosine 0.9995 with
  the T → 0 limit at initialisation, against 0.9985 for 12 steps);
- ``path-integral``: block Gibbs with conditional Rao–Blackwellisation, 12 sweeps (2 burn-in),
  2 Gauss–Legendre nodes, 4 chains (the table's setting);
- ``path-integral-4``: the same with 4 sweeps (2 burn-in) (``benchmarks/gibbs_sweeps.py``:
  cosine 0.931 with the T → 0 limit at initialisation, against 0.985 for 12 sweeps; 3 sweeps
  with 1 burn-in, 0.925 there, did not train: benchmarks/results/fmnist_thermo_short.md);
- ``path-integral-5``: 5 sweeps (2 burn-in): three kept sweeps where 4 sweeps keep two (the
  4-sweep runs ended about 0.3 point under the 12-sweep ones);
- ``path-integral-warm5`` / ``path-integral-warm6``: the free phase 3 sweeps (2 burn-in), each
  node, warm-started from the phase before it, 5 or 6 sweeps with 1 burn-in (``warm_steps``,
  ``warm_burn_in``): 4 or 5 kept sweeps a node where the 5-sweep schedule keeps 3, as the
  free phase's kept sweeps serve only the prediction and the cost.

``--trained CKPT`` loads the network's weights from a checkpoint of the same architecture
(``thermoep train --checkpoint-every``) before timing: a trained network's fields are larger,
and the block-Gibbs laws' mode searches work harder there than at initialisation.

An epoch is 938 batches (60,000 / 64): "s/epoch" is the measured seconds per batch × 938 (the
training loop alone, without evaluation). The ratios to ``centered`` are the figures the issue
asks for (finite nudge ≤ 2×, path integral ≤ 5×).

``--batch-size 1`` times a step whose arithmetic is negligible: what the step costs beyond its
arithmetic (Python, kernel dispatch, the random-number generator's per-call cost).

    python benchmarks/thermo_speed.py [--batches 40] [--name thermo_speed] [--trained CKPT]
                                      [--batch-size 64]
Needs Fashion-MNIST (``apt-get install dataset-fashion-mnist``). Writes
benchmarks/results/<name>.{json,md} and prints the table. Run it alone (two torch processes on
two cores slow each other several-fold).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch

from thermoep import __version__, checkpoints
from thermoep.config import RunConfig
from thermoep.experiment import build

OUT = Path(__file__).parent / "results"
BATCH = 64
TRAIN_IMAGES = 60000

BASE = dict(dataset="fashion-mnist", hidden=[256], activation="tanh", batch_size=BATCH,
            beta=1.0, optimizer="adam", lr=1e-3, standardize="global", seed=0)
CONFIGS = {
    # centered EP has no nudged equilibrium at |β| ≥ 1 (E − βℓ unbounded below); β does not
    # change what a step costs
    "centered": dict(estimator="centered", sampler="relax", steps=30, nudged_steps=10,
                     beta=0.5),
    "finite-nudge": dict(estimator="finite-nudge", sampler="langevin", temperature=0.001,
                         steps=30, burn_in=10, chains=4, step_size=0.4, coupled=True),
    "finite-nudge-blocks": dict(estimator="finite-nudge", sampler="langevin", temperature=0.001,
                                steps=12, burn_in=4, chains=4, step_size=0.5, coupled=True,
                                **{"sampler.mode": "blocks"}),
    "finite-nudge-blocks15": dict(estimator="finite-nudge", sampler="langevin",
                                  temperature=0.001, steps=15, burn_in=5, chains=4,
                                  step_size=0.5, coupled=True, **{"sampler.mode": "blocks"}),
    "path-integral": dict(estimator="path-integral", sampler="gibbs", temperature=0.001,
                          steps=12, burn_in=2, chains=4, nodes=2, conditional=True),
    "path-integral-4": dict(estimator="path-integral", sampler="gibbs", temperature=0.001,
                            steps=4, burn_in=2, chains=4, nodes=2, conditional=True),
    "path-integral-5": dict(estimator="path-integral", sampler="gibbs", temperature=0.001,
                            steps=5, burn_in=2, chains=4, nodes=2, conditional=True),
    "path-integral-warm5": dict(estimator="path-integral", sampler="gibbs", temperature=0.001,
                                steps=3, burn_in=2, warm_steps=5, warm_burn_in=1, chains=4,
                                nodes=2, conditional=True),
    "path-integral-warm6": dict(estimator="path-integral", sampler="gibbs", temperature=0.001,
                                steps=3, burn_in=2, warm_steps=6, warm_burn_in=1, chains=4,
                                nodes=2, conditional=True),
}


def seconds_per_batch(name: str, batches: int, trained: str | None = None,
                      batch: int = BATCH) -> dict:
    cfg = RunConfig.of(**{**BASE, **CONFIGS[name], "batch_size": batch},
                       limit_train=batch * (batches + 1), limit_test=batch)
    built = build(cfg)
    model, cost, est, opt, gen = built.model, built.cost, built.estimator, built.optimizer, \
        built.generator
    if trained is not None:
        model.load_state_dict(checkpoints.load(trained)["model"])
    x, y = built.data.train_x, built.data.train_y
    xs = [x[i * batch:(i + 1) * batch] for i in range(batches + 1)]
    ys = [y[i * batch:(i + 1) * batch] for i in range(batches + 1)]

    def train_step(xb, yb):
        opt.zero_grad(set_to_none=True)
        g = est(model, cost, xb, yb, generator=gen)
        g.apply_(model, cost)
        opt.step()
        return g

    train_step(xs[0], ys[0])  # warm-up: first-call allocations, lazy imports
    t = time.perf_counter()
    for xb, yb in zip(xs[1:], ys[1:], strict=True):
        g = train_step(xb, yb)
    per_batch = (time.perf_counter() - t) / batches
    return {"estimator": name, "config": CONFIGS[name], "seconds_per_batch": per_batch,
            "seconds_per_epoch": per_batch * -(-TRAIN_IMAGES // batch),
            "last_loss": float(g.loss)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batches", type=int, default=40)
    ap.add_argument("--name", default="thermo_speed")
    ap.add_argument("--threads", type=int, default=None,
                    help="torch threads (default: torch's choice)")
    ap.add_argument("--estimators", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    ap.add_argument("--trained", default=None,
                    help="checkpoint whose weights every estimator starts from")
    ap.add_argument("--batch-size", type=int, default=BATCH,
                    help="images per step (1: what a step costs beyond its arithmetic)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    rows = [seconds_per_batch(n, args.batches, args.trained, args.batch_size)
            for n in args.estimators]
    ref = next((r["seconds_per_batch"] for r in rows if r["estimator"] == "centered"), None)
    for r in rows:
        r["ratio_to_centered"] = None if ref is None else r["seconds_per_batch"] / ref
    result = {
        "command": f"python benchmarks/thermo_speed.py --batches {args.batches} --name "
                   f"{args.name}" + (f" --threads {args.threads}" if args.threads else "")
                   + ("" if args.estimators == list(CONFIGS)
                      else " --estimators " + " ".join(args.estimators))
                   + (f" --trained {args.trained}" if args.trained else "")
                   + (f" --batch-size {args.batch_size}" if args.batch_size != BATCH else ""),
        "thermoep": __version__, "torch": torch.__version__,
        "machine": platform.processor() or platform.machine(),
        "threads": torch.get_num_threads(), "batches": args.batches,
        "batch_size": args.batch_size, "rows": rows,
    }
    OUT.mkdir(exist_ok=True)
    (OUT / f"{args.name}.json").write_text(json.dumps(result, indent=1) + "\n")
    lines = [f"# {args.name}", "", f"Command: `{result['command']}` (thermoep "
             f"{__version__}, torch {torch.__version__}, {result['threads']} threads)", "",
             f"784-256-10 tanh, Fashion-MNIST, batch {args.batch_size}, β = 1 (centered: 0.5); "
             "one training step = estimator + Adam step; s/epoch = s/batch × batches in 60,000 "
             "images; weights: "
             + (f"`{args.trained}`" if args.trained else "initialisation") + ".", "",
             "| estimator | ms / batch | s / epoch | × centered |", "|---|---|---|---|"]
    for r in rows:
        ratio = "–" if r["ratio_to_centered"] is None else f"{r['ratio_to_centered']:.2f}"
        lines.append(f"| {r['estimator']} | {1e3 * r['seconds_per_batch']:.1f} | "
                     f"{r['seconds_per_epoch']:.1f} | {ratio} |")
    text = "\n".join(lines) + "\n"
    (OUT / f"{args.name}.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()

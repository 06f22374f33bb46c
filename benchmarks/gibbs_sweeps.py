"""How many block-Gibbs sweeps do the conditional thermodynamic estimators need?

The Fashion-MNIST thermo rows (fmnist_thermo_conditional.json) run block Gibbs with conditional
Rao–Blackwellisation for 12 sweeps (2 burn-in) per phase. Each kept sweep's hidden layer is the
exact conditional mean given the output layer, so a few kept sweeps may already carry most of
the information, and the sweep count is what a step costs. On the fmnist_thermo network
(784-256-10 tanh LayeredHopfield at its initialisation, inputs standardised globally), T = 0.001,
β = 1, 4 independent chains, for several (sweeps, burn-in):

- the cosine of each estimate (finite nudge; path integral on 2 Gauss–Legendre nodes) with its
  T → 0 limit (one-sided EP at the relaxed fixed points, 200 relaxation steps), averaged over
  ``--batches`` batches of 64 training images (one estimate per batch), and the norm ratio;
- seconds per estimate (mean of 3 calls after a warm-up, first batch) and the same for centered
  T = 0 EP (30 free / 10 nudged steps, β = 0.5), so "× centered" is a ratio from one run.

    python benchmarks/gibbs_sweeps.py [--batches 3] [--threads 1]

Writes benchmarks/results/gibbs_sweeps.{json,md} and prints the table. Run it alone.
"""

from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

import torch
from thermo_gradient_noise import seconds_per_call  # warm-up, then the mean of 3 calls

import thermoep as te
from thermoep.data.registry import load_dataset

RESULTS = Path(__file__).parent / "results"
BATCH = 64
#: (sweeps, burn-in): the table's 12/2 and shorter runs, with 2 and 1 burn-in sweeps
SCHEDULES = ((12, 2), (8, 2), (6, 2), (4, 2), (3, 2), (6, 1), (4, 1), (3, 1))


def estimator(name: str, sweeps: int, burn_in: int):
    sampler = te.Gibbs(sweeps=sweeps, burn_in=burn_in, temperature=1e-3, chains=4)
    if name == "finite-nudge":
        return te.FiniteNudge(sampler, 1.0, rao_blackwell="conditional")
    return te.PathIntegral(sampler, 1.0, nodes=2, rao_blackwell="conditional")


class Problem:
    """The network at its initialisation, ``batches`` batches of 64 training images, their
    T → 0 limits and the seconds of a centered T = 0 estimate (the reference of "× centered")."""

    def __init__(self, batches: int) -> None:
        data = load_dataset("fashion-mnist", standardize="global", limit_train=BATCH * batches,
                            limit_test=1)
        self.net, self.cost = te.LayeredHopfield([784, 256, 10], "tanh"), te.SquaredError()
        self.batches = [(data.train_x[i * BATCH:(i + 1) * BATCH],
                         data.train_y[i * BATCH:(i + 1) * BATCH]) for i in range(batches)]
        self.limits = [te.OneSided(te.Relaxation(steps=200), 1.0)(self.net, self.cost, x, y)
                       for x, y in self.batches]
        centered = te.Centered(te.Relaxation(steps=30, nudged_steps=10), 0.5)
        self.centered_seconds = seconds_per_call(centered, self.net, self.cost,
                                                 *self.batches[0])

    def measure(self, est, seed: int) -> dict:
        """Cosine and norm ratio with the limit per batch, seconds per estimate (first batch)."""
        cos, ratio = [], []
        for i, ((x, y), limit) in enumerate(zip(self.batches, self.limits, strict=True)):
            g = est(self.net, self.cost, x, y, generator=torch.Generator().manual_seed(seed + i))
            cos.append(g.cosine(limit))
            ratio.append(float(g.flat().norm() / limit.flat().norm()))
        s = seconds_per_call(est, self.net, self.cost, *self.batches[0])
        return {"cosine": cos, "cosine_mean": sum(cos) / len(cos), "norm_ratio": ratio,
                "seconds_per_batch": s, "ratio_to_centered": s / self.centered_seconds}


def measured_cells(r: dict, ms: str = ".0f", ratio: str = ".1f") -> str:
    """The Markdown cells of one :meth:`Problem.measure` row: mean cosine, per-batch cosines,
    norm ratios, ms per batch, × centered."""
    return (f"{r['cosine_mean']:.4f} | " + ", ".join(f"{c:.4f}" for c in r["cosine"]) + " | "
            + ", ".join(f"{v:.3f}" for v in r["norm_ratio"]) + " | "
            f"{1e3 * r['seconds_per_batch']:{ms}} | {r['ratio_to_centered']:{ratio}} |")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    problem = Problem(args.batches)
    rows = [{"estimator": name, "sweeps": sweeps, "burn_in": burn_in, "kept": sweeps - burn_in,
             **problem.measure(estimator(name, sweeps, burn_in), args.seed)}
            for name in ("finite-nudge", "path-integral") for sweeps, burn_in in SCHEDULES]
    ref_s = problem.centered_seconds
    RESULTS.mkdir(exist_ok=True)
    out = {"command": "python benchmarks/gibbs_sweeps.py --batches "
                      f"{args.batches}" + (f" --threads {args.threads}" if args.threads else ""),
           "torch": torch.__version__, "threads": torch.get_num_threads(),
           "machine": platform.processor() or platform.machine(),
           "centered_seconds_per_batch": ref_s, "rows": rows}
    (RESULTS / "gibbs_sweeps.json").write_text(json.dumps(out, indent=1) + "\n")
    lines = ["# Block-Gibbs sweeps of the conditional estimators", "",
             f"Command: `{out['command']}` ({out['threads']} torch threads). 784-256-10 tanh at "
             "init, T = 0.001, β = 1, 4 independent chains, conditional Rao–Blackwellisation; "
             "path integral on 2 nodes. Cosine with the T → 0 limit (one-sided EP at the "
             f"relaxed fixed points), mean over {args.batches} batches of 64; time per estimate "
             f"on the first batch; centered T = 0 EP: {1e3 * ref_s:.1f} ms.", "",
             "| estimator | sweeps | burn-in | cosine (mean) | per batch | norm ratio | "
             "ms / batch | × centered |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['estimator']} | {r['sweeps']} | {r['burn_in']} | "
                     + measured_cells(r))
    text = "\n".join(lines) + "\n"
    (RESULTS / "gibbs_sweeps.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()

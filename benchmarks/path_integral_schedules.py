"""Which block-Gibbs schedule gives the path integral the most accurate gradient per second?

On trained weights (``--trained``; default ``results/thermo_speed_trained.ckpt``, the weights
``thermo_speed.py --trained`` times: the 4-sweep path-integral run, seed 0, after 10 of its 25
epochs, not committed; its command is in results/fmnist_thermo_short.md), the
Fashion-MNIST network of the thermo rows (784-256-10 tanh, T = 0.001, β = 1, 4 independent
chains, conditional Rao–Blackwellisation, 2 Gauss–Legendre nodes), each schedule's estimate on
``--batches`` batches of 64 training images is compared with a reference: the same estimator
with 64 chains, 30 sweeps (5 burn-in) and 4 nodes, run twice with other seeds to show how exact
it is. Reported per schedule: the mean cosine with the reference over ``--repeats`` estimates
per batch (± its standard error) and the seconds per estimate against centered T = 0 EP
(30 free / 10 nudged steps, β = 0.5) in the same process.

Why not the T → 0 limit (``gibbs_sweeps.py``): on trained weights the T = 0.001 gradient is not
close to it (cosine ≈ 0.3, a quarter of its norm), so a cosine with the limit measures that gap,
not a schedule's noise.

    python benchmarks/path_integral_schedules.py [--batches 3] [--repeats 2] [--threads 1]

Writes benchmarks/results/path_integral_schedules.{json,md} and prints the table. Run it alone.
"""

from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

import torch
from thermo_gradient_noise import seconds_per_call  # warm-up, then the mean of repeats

import thermoep as te
from thermoep import checkpoints
from thermoep.data.registry import load_dataset

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
TRAINED = RESULTS / "thermo_speed_trained.ckpt"
BATCH = 64
#: (sweeps, burn-in, warm sweeps, warm burn-in): the table's 12/2, the short cold schedules, and
#: warm-started nodes after a 3-sweep free phase (burn-in 0: a node keeps the state one sweep
#: after the previous phase's last)
SCHEDULES = ((12, 2, None, None), (4, 2, None, None), (5, 2, None, None), (3, 2, 5, 1),
             (3, 2, 6, 1), (3, 2, 4, 0), (3, 2, 5, 0))


def path_integral(sweeps, burn_in, warm_sweeps=None, warm_burn_in=None, chains=4, nodes=2):
    gibbs = te.Gibbs(sweeps=sweeps, burn_in=burn_in, temperature=1e-3, chains=chains,
                     warm_sweeps=warm_sweeps, warm_burn_in=warm_burn_in)
    return te.PathIntegral(gibbs, 1.0, nodes=nodes, rao_blackwell="conditional")


def trained_network(path: str, batches: int):
    """The thermo rows' network (784-256-10 tanh, squared error) with the weights of checkpoint
    ``path``, and ``batches`` Fashion-MNIST training batches of 64 (globally standardised)."""
    torch.manual_seed(0)
    data = load_dataset("fashion-mnist", standardize="global", limit_train=BATCH * batches,
                        limit_test=1)
    net, cost = te.LayeredHopfield([784, 256, 10], "tanh"), te.SquaredError()
    net.load_state_dict(checkpoints.load(path)["model"])
    return net, cost, [(data.train_x[i * BATCH:(i + 1) * BATCH],
                        data.train_y[i * BATCH:(i + 1) * BATCH]) for i in range(batches)]


def _shown(path: str) -> str:
    """A path as the files record it: relative to the repository when inside it."""
    p = Path(path).resolve()
    return str(p.relative_to(ROOT)) if p.is_relative_to(ROOT) else str(p)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batches", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--trained", default=str(TRAINED))
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    net, cost, batches = trained_network(args.trained, args.batches)
    reference = path_integral(30, 5, chains=64, nodes=4)
    refs = [reference(net, cost, x, y, generator=torch.Generator().manual_seed(77 + i))
            for i, (x, y) in enumerate(batches)]
    again = [reference(net, cost, x, y, generator=torch.Generator().manual_seed(777 + i))
             for i, (x, y) in enumerate(batches)]
    limits = [te.OneSided(te.Relaxation(steps=300), 1.0)(net, cost, x, y) for x, y in batches]
    centered = seconds_per_call(te.Centered(te.Relaxation(steps=30, nudged_steps=10), 0.5),
                                net, cost, *batches[0], repeats=5)
    rows = []
    for sweeps, burn_in, warm, warm_burn in SCHEDULES:
        est = path_integral(sweeps, burn_in, warm, warm_burn)
        cos = torch.tensor([est(net, cost, x, y, generator=torch.Generator().manual_seed(
            1000 * r + i)).cosine(ref) for r in range(args.repeats)
            for i, ((x, y), ref) in enumerate(zip(batches, refs, strict=True))])
        s = seconds_per_call(est, net, cost, *batches[0], repeats=5)
        rows.append({"sweeps": sweeps, "burn_in": burn_in, "warm_sweeps": warm,
                     "warm_burn_in": warm_burn, "cosine": cos.tolist(),
                     "cosine_mean": float(cos.mean()),
                     "cosine_se": float(cos.std() / len(cos) ** 0.5),
                     "seconds_per_batch": s, "ratio_to_centered": s / centered})
        print(rows[-1]["sweeps"], rows[-1]["warm_sweeps"], f"{rows[-1]['cosine_mean']:.4f}",
              f"{rows[-1]['ratio_to_centered']:.2f}x", flush=True)
    command = ("python benchmarks/path_integral_schedules.py --batches "
               f"{args.batches} --repeats {args.repeats}"
               + (f" --threads {args.threads}" if args.threads else ""))
    out = {"command": command, "torch": torch.__version__, "threads": torch.get_num_threads(),
           "machine": platform.processor() or platform.machine(), "trained": _shown(args.trained),
           "centered_seconds_per_batch": centered,
           "reference_repeat_cosine": [a.cosine(b) for a, b in zip(refs, again, strict=True)],
           "reference_limit_cosine": [a.cosine(b) for a, b in zip(refs, limits, strict=True)],
           "reference_limit_norm_ratio": [float(a.flat().norm() / b.flat().norm())
                                          for a, b in zip(refs, limits, strict=True)],
           "rows": rows}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "path_integral_schedules.json").write_text(json.dumps(out, indent=1) + "\n")

    def nums(v, f=".4f"):
        return ", ".join(f"{a:{f}}" for a in v)

    lines = ["# Path-integral schedules against a reference gradient", "",
             f"Command: `{command}` ({out['threads']} torch threads; weights `{out['trained']}`). "
             "784-256-10 tanh, T = 0.001, β = 1, 4 independent chains, conditional "
             "Rao–Blackwellisation, 2 nodes. Reference: 64 chains, 30 sweeps (5 burn-in), 4 "
             "nodes; the same run with other seeds has cosine "
             f"{nums(out['reference_repeat_cosine'])} with it; the T → 0 limit (one-sided "
             "EP, 300 relaxation steps) has cosine "
             f"{nums(out['reference_limit_cosine'])} and norm ratio (reference / limit) "
             f"{nums(out['reference_limit_norm_ratio'], '.3f')}. Centered T = 0 EP: "
             f"{1e3 * centered:.1f} ms per estimate.", "",
             "| free phase: sweeps (burn-in) | each node: sweeps (burn-in) | kept a node | "
             "cosine with the reference | ms / estimate | × centered |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        warm = r["warm_sweeps"] or r["sweeps"]
        warm_burn = r["burn_in"] if r["warm_burn_in"] is None else r["warm_burn_in"]
        lines.append(f"| {r['sweeps']} ({r['burn_in']}) | {warm} ({warm_burn}) | "
                     f"{warm - warm_burn} | {r['cosine_mean']:.3f} ± {r['cosine_se']:.3f} | "
                     f"{1e3 * r['seconds_per_batch']:.1f} | {r['ratio_to_centered']:.2f} |")
    text = "\n".join(lines) + "\n"
    (RESULTS / "path_integral_schedules.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()

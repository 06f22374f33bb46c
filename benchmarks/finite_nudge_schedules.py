"""Which coupled-ULA schedule gives the finite nudge the most accurate gradient per second?

On trained weights (``--trained``; default ``results/thermo_speed_trained.ckpt``, the weights
``thermo_speed.py --trained`` times, not committed: its command is in
results/fmnist_thermo_short.md), the Fashion-MNIST network of the thermo rows (784-256-10 tanh,
T = 0.001, β = 1, 4 coupled chains), each Langevin schedule's finite-nudge estimate on
``--batches`` batches of 64 training images is compared with a reference: the same finite nudge
(E_β[∂θE] − E_0[∂θE]) sampled without discretisation bias, by block Gibbs with conditional
Rao–Blackwellisation, 64 chains, 30 sweeps (5 burn-in), run twice with other seeds to show how
exact it is. ULA carries an O(η) bias the reference does not, so the cosine measures a
schedule's bias and noise together. Reported per schedule: the mean cosine with the reference
over ``--repeats`` estimates per batch (± its standard error), the norm ratio, and the seconds
per estimate against centered T = 0 EP (30 free / 10 nudged steps, β = 0.5) in the same
process.

Why: the blocks-mode schedules that cost ≤ 2× the centered step trained 0.17 point under the
table's 30 jacobi steps (results/fmnist_thermo_short.md); this says whether their gradients are
further from the finite nudge's, and which schedule within 2× comes closest.

    python benchmarks/finite_nudge_schedules.py [--batches 3] [--repeats 3] [--threads 1]

Writes benchmarks/results/finite_nudge_schedules.{json,md} and prints the table. Run it alone.
"""

from __future__ import annotations

import argparse
import json
import platform

import torch
from path_integral_schedules import RESULTS, TRAINED, _shown, trained_network
from thermo_gradient_noise import seconds_per_call  # warm-up, then the mean of repeats

import thermoep as te

#: (mode, steps, burn-in, step size): the table's 30 jacobi steps, the blocks-mode schedules
#: trained so far, and their neighbours in steps and step size
SCHEDULES = (("jacobi", 30, 10, 0.4), ("jacobi", 15, 5, 0.4), ("blocks", 12, 4, 0.5),
             ("blocks", 15, 5, 0.5), ("blocks", 15, 5, 0.4), ("blocks", 18, 5, 0.5),
             ("blocks", 18, 6, 0.4), ("blocks", 24, 6, 0.4))


def finite_nudge(mode: str, steps: int, burn_in: int, step_size: float) -> te.FiniteNudge:
    ula = te.Langevin(step_size=step_size, steps=steps, burn_in=burn_in, temperature=1e-3,
                      chains=4, coupled=True, mode=mode)
    return te.FiniteNudge(ula, 1.0)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batches", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--trained", default=str(TRAINED))
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    net, cost, batches = trained_network(args.trained, args.batches)
    reference = te.FiniteNudge(te.Gibbs(sweeps=30, burn_in=5, temperature=1e-3, chains=64),
                               1.0, rao_blackwell="conditional")
    refs = [reference(net, cost, x, y, generator=torch.Generator().manual_seed(77 + i))
            for i, (x, y) in enumerate(batches)]
    again = [reference(net, cost, x, y, generator=torch.Generator().manual_seed(777 + i))
             for i, (x, y) in enumerate(batches)]
    centered = seconds_per_call(te.Centered(te.Relaxation(steps=30, nudged_steps=10), 0.5),
                                net, cost, *batches[0], repeats=5)
    rows = []
    for mode, steps, burn_in, eta in SCHEDULES:
        est = finite_nudge(mode, steps, burn_in, eta)
        pairs = [(est(net, cost, x, y, generator=torch.Generator().manual_seed(1000 * r + i)),
                  ref) for r in range(args.repeats)
                 for i, ((x, y), ref) in enumerate(zip(batches, refs, strict=True))]
        cos = torch.tensor([g.cosine(ref) for g, ref in pairs])
        norm = torch.tensor([float(g.flat().norm() / ref.flat().norm()) for g, ref in pairs])
        s = seconds_per_call(est, net, cost, *batches[0], repeats=5)
        rows.append({"mode": mode, "steps": steps, "burn_in": burn_in, "step_size": eta,
                     "cosine": cos.tolist(), "cosine_mean": float(cos.mean()),
                     "cosine_se": float(cos.std() / len(cos) ** 0.5),
                     "norm_ratio_mean": float(norm.mean()),
                     "seconds_per_batch": s, "ratio_to_centered": s / centered})
        print(mode, steps, burn_in, eta, f"{rows[-1]['cosine_mean']:.4f}",
              f"{rows[-1]['ratio_to_centered']:.2f}x", flush=True)
    command = ("python benchmarks/finite_nudge_schedules.py --batches "
               f"{args.batches} --repeats {args.repeats}"
               + (f" --threads {args.threads}" if args.threads else ""))
    out = {"command": command, "torch": torch.__version__, "threads": torch.get_num_threads(),
           "machine": platform.processor() or platform.machine(), "trained": _shown(args.trained),
           "centered_seconds_per_batch": centered,
           "reference_repeat_cosine": [a.cosine(b) for a, b in zip(refs, again, strict=True)],
           "rows": rows}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "finite_nudge_schedules.json").write_text(json.dumps(out, indent=1) + "\n")
    repeat = ", ".join(f"{c:.4f}" for c in out["reference_repeat_cosine"])
    lines = ["# Finite-nudge schedules against a reference gradient", "",
             f"Command: `{command}` ({out['threads']} torch threads; weights `{out['trained']}`). "
             "784-256-10 tanh, T = 0.001, β = 1, coupled ULA with 4 chains. Reference: the "
             "finite nudge by block Gibbs with conditional Rao–Blackwellisation, 64 chains, 30 "
             f"sweeps (5 burn-in); the same run with other seeds has cosine {repeat} with it. "
             f"Centered T = 0 EP: {1e3 * centered:.1f} ms per estimate.", "",
             "| mode | steps (burn-in) | η | kept | cosine with the reference | norm / "
             "reference's | ms / estimate | × centered |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['mode']} | {r['steps']} ({r['burn_in']}) | {r['step_size']} | "
                     f"{r['steps'] - r['burn_in']} | {r['cosine_mean']:.4f} ± "
                     f"{r['cosine_se']:.4f} | {r['norm_ratio_mean']:.3f} | "
                     f"{1e3 * r['seconds_per_batch']:.1f} | {r['ratio_to_centered']:.2f} |")
    text = "\n".join(lines) + "\n"
    (RESULTS / "finite_nudge_schedules.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()

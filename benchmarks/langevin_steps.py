"""How many Langevin steps, and how long a step, does the coupled finite nudge need?

The Fashion-MNIST finite-nudge row with coupled chains (fmnist_thermo_coupled.json) runs
unadjusted Langevin (ULA) for 30 steps (10 burn-in) at step size η = 0.4 per phase, the free
and the nudged phase as one tensor program with common random numbers. A ULA step is a damped
Jacobi step towards the fixed point plus noise of variance 2ηT, so a larger η relaxes in fewer
steps, up to where the simultaneous update of both layers starts to oscillate (η = 1 is the
undamped fixed-point map). On the fmnist_thermo network (784-256-10 tanh LayeredHopfield at its
initialisation, inputs standardised globally), T = 0.001, β = 1, 4 coupled chains, for several
(steps, burn-in, η):

- the cosine of the estimate with its T → 0 limit (one-sided EP at the relaxed fixed points,
  200 relaxation steps), per batch of ``--batches`` batches of 64 training images, and the
  norm ratio;
- seconds per estimate (mean of 3 calls after a warm-up, first batch) and the same for centered
  T = 0 EP (30 free / 10 nudged steps, β = 0.5), so "× centered" is a ratio from one run.

The cosine is measured at initialisation only, where the network is soft. With ``--trained
CKPT`` (a checkpoint of the same network after training, e.g. the ``.ckpt`` beside
``benchmarks/results/fmnist_thermo_conditional_sweeps4/finite-nudge_s0.nc``), a second table gives
the free phase's mean cost on 256 training images under each schedule (4 chains, T = 0.001)
next to the T = 0 relaxation's: a schedule that has not relaxed, or whose step is unstable on the
trained network's stiffer units, shows a larger cost. Whether a schedule trains as well is what a
training run shows (benchmarks/results/fmnist_thermo_short.md).

    python benchmarks/langevin_steps.py [--batches 3] [--threads 1] [--trained CKPT]

Writes benchmarks/results/langevin_steps.{json,md} and prints the table. Run it alone.
"""

from __future__ import annotations

import argparse
import json
import platform

import torch
from gibbs_sweeps import RESULTS, Problem, measured_cells

import thermoep as te

#: (steps, burn-in, η): the table's 30/10 at 0.4, shorter runs at 0.4, and larger steps
#: (steps, burn-in, η, mode): the table's 30/10 at 0.4, shorter runs, larger steps, and the
#: blocks mode (layers moved in turn)
SCHEDULES = ((30, 10, 0.4, "jacobi"), (20, 5, 0.4, "jacobi"), (15, 5, 0.4, "jacobi"),
             (12, 4, 0.4, "jacobi"), (10, 3, 0.4, "jacobi"), (15, 5, 0.6, "jacobi"),
             (12, 4, 0.6, "jacobi"), (10, 3, 0.6, "jacobi"), (12, 4, 0.8, "jacobi"),
             (10, 3, 0.8, "jacobi"), (8, 3, 0.8, "jacobi"), (10, 3, 1.0, "jacobi"),
             (15, 5, 0.4, "blocks"), (12, 4, 0.4, "blocks"), (15, 5, 0.5, "blocks"),
             (12, 4, 0.5, "blocks"), (12, 4, 0.6, "blocks"), (12, 4, 0.8, "blocks"))


def sampler(steps: int, burn_in: int, eta: float, mode: str) -> te.Langevin:
    return te.Langevin(step_size=eta, steps=steps, burn_in=burn_in, temperature=1e-3, chains=4,
                       coupled=True, mode=mode)


def trained_costs(path: str, seed: int) -> dict:
    """The free phase's mean cost on 256 training images of a trained checkpoint: the T = 0
    relaxation's (300 steps) and each schedule's."""
    from thermoep import checkpoints
    from thermoep.config import RunConfig
    from thermoep.experiment import build

    state = checkpoints.load(path)
    built = build(RunConfig.from_dict(state["config"]).resolved())
    net, cost = built.model, built.cost
    net.load_state_dict(state["model"])
    x, y = built.data.train_x[:256], built.data.train_y[:256]
    relaxed = float(te.Relaxation(steps=300).run(net, cost, x, y, 0.0).cost.mean())
    rows = [{"steps": st, "burn_in": b, "step_size": eta, "mode": mode,
             "free_cost": float(sampler(st, b, eta, mode).run(
                 net, cost, x, y, 0.0, generator=torch.Generator().manual_seed(seed)).cost.mean())}
            for st, b, eta, mode in SCHEDULES]
    return {"checkpoint": path, "relaxation_cost": relaxed, "rows": rows}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--trained", default=None,
                        help="checkpoint of the trained network for the free-phase cost table")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    problem = Problem(args.batches)
    rows = [{"steps": steps, "burn_in": burn_in, "step_size": eta, "mode": mode,
             **problem.measure(te.FiniteNudge(sampler(steps, burn_in, eta, mode), 1.0),
                               args.seed)}
            for steps, burn_in, eta, mode in SCHEDULES]
    ref_s = problem.centered_seconds
    out = {"command": "python benchmarks/langevin_steps.py --batches "
                      f"{args.batches}" + (f" --threads {args.threads}" if args.threads else "")
                      + (f" --trained {args.trained}" if args.trained else ""),
           "torch": torch.__version__, "threads": torch.get_num_threads(),
           "machine": platform.processor() or platform.machine(),
           "centered_seconds_per_batch": ref_s, "rows": rows,
           "trained": trained_costs(args.trained, args.seed) if args.trained else None}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "langevin_steps.json").write_text(json.dumps(out, indent=1) + "\n")
    lines = ["# Langevin steps of the coupled finite nudge", "",
             f"Command: `{out['command']}` ({out['threads']} torch threads). 784-256-10 tanh at "
             "init, T = 0.001, β = 1, 4 coupled ULA chains. Cosine with the T → 0 limit "
             f"(one-sided EP at the relaxed fixed points) per batch of 64 ({args.batches} "
             "batches); time per estimate on the first batch; centered T = 0 EP: "
             f"{1e3 * ref_s:.1f} ms.", "",
             "| steps | burn-in | η | mode | cosine (mean) | per batch | norm ratio | "
             "ms / batch | × centered |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['steps']} | {r['burn_in']} | {r['step_size']:g} | {r['mode']} | "
                     + measured_cells(r, ms=".1f", ratio=".2f"))
    trained = out["trained"]
    if trained:
        lines += ["", f"Free phase on the trained network (`{trained['checkpoint']}`), mean cost "
                  "on 256 training images, 4 chains, T = 0.001; the T = 0 relaxation (300 "
                  f"steps): {trained['relaxation_cost']:.4f}.", "",
                  "| steps | burn-in | η | mode | free-phase cost |", "|---|---|---|---|---|"]
        lines += [f"| {r['steps']} | {r['burn_in']} | {r['step_size']:g} | {r['mode']} | "
                  f"{r['free_cost']:.4f} |" for r in trained["rows"]]
    text = "\n".join(lines) + "\n"
    (RESULTS / "langevin_steps.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()

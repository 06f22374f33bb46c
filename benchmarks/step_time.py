"""Median seconds of one training step (estimator call + Adam step) on fresh random inputs, for
before/after comparisons of two source trees in one session:

    PYTHONPATH=/path/to/old python benchmarks/step_time.py proto --out /tmp/old.json
    PYTHONPATH=/path/to/new python benchmarks/step_time.py proto --out /tmp/new.json

Run the two alternately, several times: on a shared machine the speed drifts between runs.
Instruction counts do not drift; count them with callgrind, one thread, and take the
difference of two call counts so that start-up cancels:

    valgrind --tool=callgrind --callgrind-out-file=/dev/null \\
        python benchmarks/step_time.py proto --steps 2 --threads 1
    (again with --steps 6; per step = (Ir(6) − Ir(2)) / 4)

Kinds: ``proto`` (PrototypicalHopfield 784-512-10 sigmoid4, centered EP β = 0.1, 30/10 steps,
batch 50: the fmnist_speed configuration), ``hopfield`` (LayeredHopfield, same), ``centered``
(LayeredHopfield 784-256-10 tanh, β = 0.5, batch 64), ``finite`` (the same network, finite
nudge with coupled ULA, 4 chains, 30 steps, T = 0.001). The constructors used exist in
thermoep 0.1 and 0.2, so both trees run it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

import thermoep as te


def build(kind: str):
    if kind == "proto":
        net = te.PrototypicalHopfield([784, 512, 10], "sigmoid4")
        return net, te.Centered(te.Relaxation(steps=30, nudged_steps=10, step_size=1.0), 0.1), 50
    if kind == "hopfield":
        net = te.LayeredHopfield([784, 512, 10], "sigmoid4")
        return net, te.Centered(te.Relaxation(steps=30, nudged_steps=10, step_size=0.5), 0.1), 50
    net = te.LayeredHopfield([784, 256, 10], "tanh")
    if kind == "centered":
        return net, te.Centered(te.Relaxation(steps=30, nudged_steps=10), 0.5), 64
    if kind == "finite":
        return net, te.FiniteNudge(te.Langevin(step_size=0.4, steps=30, burn_in=10,
                                               temperature=0.001, chains=4, coupled=True),
                                   1.0), 64
    raise SystemExit(f"unknown kind {kind!r}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("kind", choices=["proto", "hopfield", "centered", "finite"])
    ap.add_argument("--steps", type=int, default=20, help="timed steps (after one warm-up)")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--out", default=None, help="JSON file for the figures")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    net, est, batch = build(args.kind)
    cost = te.SquaredError()
    xs = [torch.rand(batch, 784) for _ in range(args.steps + 1)]
    y = torch.randint(0, 10, (batch,))
    gen = torch.Generator().manual_seed(0)
    opt = torch.optim.Adam(net.parameters(), lr=5e-4)

    def step(x):
        opt.zero_grad(set_to_none=True)
        g = est(net, cost, x, y, generator=gen)
        g.apply_(net, cost)
        opt.step()

    step(xs[0])
    times = []
    for x in xs[1:]:
        t = time.perf_counter()
        step(x)
        times.append(time.perf_counter() - t)
    result = {"kind": args.kind, "thermoep": te.__version__, "threads": torch.get_num_threads(),
              "steps": args.steps, "median_ms": 1e3 * statistics.median(times),
              "min_ms": 1e3 * min(times)}
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=1)
    print(f"{args.kind}: median {result['median_ms']:.2f} ms, min {result['min_ms']:.2f} ms per "
          f"step (thermoep {te.__version__}, {result['threads']} threads)")


if __name__ == "__main__":
    main()

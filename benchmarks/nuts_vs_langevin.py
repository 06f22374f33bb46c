"""Cost per effective sample of the Pyro reference sampler (NUTS) against MALA and ULA.

Model: LayeredHopfield([3, 4, 2], "tanh"), batch 4 (the model of tests/test_nuts.py), float64,
temperature T = 0.5, nudge b = 0.5, one thread. Every sampler runs C independent chains on the
same phase; the statistic is the batch-averaged cost trace ``[C, S]`` of the Phase, whose ESS is
``pyro.ops.stats.effective_sample_size(trace, chain_dim=0, sample_dim=1)``. Wall time is the whole
``run`` (warm-up included: NUTS's adaptation is part of its price). ULA is biased by its step size,
so its row also reports E_b[ℓ] next to the others: its ESS counts samples of a slightly different
distribution.

    python benchmarks/nuts_vs_langevin.py [--chains 4] [--nuts-steps 1000] [--langevin-steps 20000]
Writes benchmarks/results/nuts_vs_langevin.json and prints the table.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import time
from pathlib import Path

import pyro
import torch
from pyro.ops.stats import effective_sample_size

import thermoep as te

OUT = Path(__file__).parent / "results" / "nuts_vs_langevin.json"
SIZES, ACTIVATION, BATCH, TEMPERATURE, NUDGE = [3, 4, 2], "tanh", 4, 0.5, 0.5


def problem(seed: int):
    torch.manual_seed(seed)
    net = te.LayeredHopfield(SIZES, ACTIVATION)
    g = torch.Generator().manual_seed(seed + 1)
    x = torch.randn(BATCH, SIZES[0], generator=g)
    y = torch.randint(0, SIZES[-1], (BATCH,), generator=g)
    cost = te.SquaredError()
    x, yt = te.samplers.base.prepare(net, cost, x, y)
    return net, cost, x, yt


def measure(name: str, sampler, net, cost, x, yt, seed: int) -> dict:
    t = time.perf_counter()
    phase = sampler.run(net, cost, x, yt, NUDGE, generator=torch.Generator().manual_seed(seed))
    wall = time.perf_counter() - t
    trace = phase.trace["cost"].detach().double()
    ess = float(effective_sample_size(trace, chain_dim=0, sample_dim=1))
    per_chain = trace.mean(1)
    return {
        "sampler": name,
        "config": repr(sampler),
        "chains": sampler.chains,
        "steps_per_chain": sampler.steps,
        "kept_per_chain": sampler.num_samples,
        "wall_seconds": wall,
        "ess": ess,
        "seconds_per_ess": wall / ess,
        "ms_per_step_per_chain": 1e3 * wall / (sampler.steps * sampler.chains),
        "cost_mean": float(per_chain.mean()),
        "cost_se": float(per_chain.std() / math.sqrt(len(per_chain))),
        "info": {k: float(v) for k, v in phase.info.items()},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chains", type=int, default=4)
    ap.add_argument("--nuts-steps", type=int, default=1000)
    ap.add_argument("--langevin-steps", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.set_default_dtype(torch.float64)
    net, cost, x, yt = problem(args.seed)
    C, T, n, m = args.chains, TEMPERATURE, args.nuts_steps, args.langevin_steps
    samplers = [
        ("NUTS", te.NUTS(steps=n, burn_in=n // 5, temperature=T, chains=C)),
        ("MALA", te.Langevin(step_size=0.3, steps=m, burn_in=m // 10, temperature=T,
                             metropolis=True, chains=C)),
        ("ULA", te.Langevin(step_size=0.1, steps=m, burn_in=m // 10, temperature=T, chains=C)),
    ]
    rows = [measure(name, s, net, cost, x, yt, args.seed + 1) for name, s in samplers]
    nuts = rows[0]["seconds_per_ess"]
    for r in rows:
        r["seconds_per_ess_relative_to_nuts"] = r["seconds_per_ess"] / nuts

    head = (f"{'sampler':8s} {'wall s':>8s} {'ESS':>9s} {'s / ESS':>10s} {'rel.':>7s} "
            f"{'ms/step':>8s} {'E_b[l]':>8s} {'± se':>7s}")
    print(f"LayeredHopfield({SIZES}, {ACTIVATION!r}), batch {BATCH}, T = {T}, b = {NUDGE}, "
          f"{C} chains, 1 thread")
    print(head)
    for r in rows:
        print(f"{r['sampler']:8s} {r['wall_seconds']:8.2f} {r['ess']:9.1f} "
              f"{r['seconds_per_ess']:10.2e} {r['seconds_per_ess_relative_to_nuts']:7.3f} "
              f"{r['ms_per_step_per_chain']:8.3f} {r['cost_mean']:8.4f} {r['cost_se']:7.4f}")

    result = {
        "benchmark": "nuts_vs_langevin",
        "command": "python benchmarks/nuts_vs_langevin.py "
                   f"--chains {C} --nuts-steps {n} --langevin-steps {m} --seed {args.seed}",
        "model": {"sizes": SIZES, "activation": ACTIVATION, "batch": BATCH, "dtype": "float64"},
        "temperature": T,
        "nudge": NUDGE,
        "statistic": "ESS of the batch-averaged cost trace [C, S] "
                     "(pyro.ops.stats.effective_sample_size, chain_dim=0, sample_dim=1)",
        "rows": rows,
        "machine": {"platform": platform.platform(), "python": platform.python_version(),
                    "torch": torch.__version__, "pyro": pyro.__version__, "threads": 1,
                    "load_average_1min_at_end": os.getloadavg()[0]},
        "thermoep": te.__version__,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    tmp = OUT.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    tmp.replace(OUT)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()

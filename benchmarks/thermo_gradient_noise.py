"""How noisy is one batch's thermodynamic gradient on Fashion-MNIST? (why fmnist_thermo_coupled)

On the fmnist_thermo network (784-256-10 tanh LayeredHopfield, inputs standardised globally, at
its initialisation) and one batch of 64 training images, compare each Monte-Carlo estimate of
∇J_β (β = 1) with its T → 0 limit, the one-sided EP gradient at the relaxed fixed points
(200 relaxation steps): cosine overall and per parameter, and the norm ratio. Langevin as in
fmnist_thermo.json (η = 0.4, 30 steps, 10 burn-in, 4 chains), independent or coupled chains.
Second table: the path integral at T = 0.001 with 4, 16 and 64 chains (what closing its gap to
finite nudge would cost: seconds per batch, mean of 3 repeats after one warm-up call), with plain
and with Rao–Blackwellised ULA (``rao_blackwell=True``: each sample averaged over its step's noise).

    python benchmarks/thermo_gradient_noise.py   # → results/thermo_gradient_noise.json/.md
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

import thermoep as te
from thermoep.data.registry import load_dataset

RESULTS = Path(__file__).parent / "results"


def langevin(temperature: float, coupled: bool, chains: int = 4,
             rao_blackwell: bool = False) -> te.Langevin:
    return te.Langevin(step_size=0.4, steps=30, burn_in=10, temperature=temperature,
                       chains=chains, coupled=coupled, rao_blackwell=rao_blackwell)


def seconds_per_call(est, *args, repeats: int = 3) -> float:
    est(*args, generator=torch.Generator().manual_seed(0))  # warm-up
    t0 = time.perf_counter()
    for i in range(repeats):
        est(*args, generator=torch.Generator().manual_seed(100 + i))
    return (time.perf_counter() - t0) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    data = load_dataset("fashion-mnist", standardize="global", limit_train=args.batch,
                        limit_test=1)
    net = te.LayeredHopfield([784, 256, 10], "tanh")
    cost = te.SquaredError()
    x, y = data.train_x, data.train_y
    limit = te.OneSided(te.Relaxation(steps=200), 1.0)(net, cost, x, y)
    rows = []
    for T in (1e-3, 1e-2):
        for name, coupled, rb in (("finite-nudge", False, False), ("finite-nudge", True, False),
                                  ("path-integral", False, False),
                                  ("finite-nudge", False, True), ("path-integral", False, True)):
            sampler = langevin(T, coupled, rao_blackwell=rb)
            est = (te.FiniteNudge(sampler, 1.0) if name == "finite-nudge"
                   else te.PathIntegral(sampler, 1.0, nodes=4))
            t0 = time.perf_counter()
            g = est(net, cost, x, y, generator=torch.Generator().manual_seed(args.seed + 1))
            rows.append({
                "estimator": name, "coupled": coupled, "rao_blackwell": rb, "temperature": T,
                "cosine": g.cosine(limit),
                "cosine_per_parameter": {k: te.Gradient({k: g[k]}).cosine({k: limit[k]})
                                         for k in g},
                "norm_ratio": float(g.flat().norm() / limit.flat().norm()),
                "seconds": time.perf_counter() - t0,
            })
    chain_rows = []
    for rb, chains in [(False, c) for c in (4, 16, 64)] + [(True, c) for c in (4, 8, 16)]:
        est = te.PathIntegral(langevin(1e-3, False, chains, rb), 1.0, nodes=4)
        g = est(net, cost, x, y, generator=torch.Generator().manual_seed(args.seed + 1))
        chain_rows.append({"chains": chains, "rao_blackwell": rb, "cosine": g.cosine(limit),
                           "norm_ratio": float(g.flat().norm() / limit.flat().norm()),
                           "seconds_per_batch": seconds_per_call(est, net, cost, x, y)})
    RESULTS.mkdir(exist_ok=True)
    out = {"network": "784-256-10 tanh LayeredHopfield at init", "batch": args.batch,
           "seed": args.seed, "beta": 1.0, "reference": "one-sided EP, relaxation 200 steps",
           "rows": rows, "path_integral_chains": chain_rows}
    (RESULTS / "thermo_gradient_noise.json").write_text(json.dumps(out, indent=1))
    lines = ["# Noise of one batch's ∇J_β estimate (β = 1) against its T → 0 limit", "",
             "Command: `python benchmarks/thermo_gradient_noise.py` (network 784-256-10 tanh "
             "LayeredHopfield at init, one batch of 64 Fashion-MNIST training images, Langevin "
             "η = 0.4, 30 steps, 10 burn-in, 4 chains)", "",
             "| estimator | chains | ULA | T | cosine | cosine, input weights | norm ratio |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        ula = "Rao–Blackwellised" if r["rao_blackwell"] else "plain"
        lines.append(f"| {r['estimator']} | {'coupled' if r['coupled'] else 'independent'} | "
                     f"{ula} | "
                     f"{r['temperature']:g} | {r['cosine']:.4f} | "
                     f"{r['cosine_per_parameter']['weights.0']:.4f} | {r['norm_ratio']:.3f} |")
    lines += ["", "Path integral (4 nodes), T = 0.001, independent chains: the cost of a better "
              "estimate (one thread; an epoch is 938 batches)", "",
              "| ULA | chains | cosine | norm ratio | s / batch | s / epoch (938 batches) |",
              "|---|---|---|---|---|---|"]
    for r in chain_rows:
        ula = "Rao–Blackwellised" if r["rao_blackwell"] else "plain"
        lines.append(f"| {ula} | {r['chains']} | {r['cosine']:.4f} | {r['norm_ratio']:.3f} | "
                     f"{r['seconds_per_batch']:.2f} | {938 * r['seconds_per_batch']:.0f} |")
    text = "\n".join(lines) + "\n"
    (RESULTS / "thermo_gradient_noise.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()

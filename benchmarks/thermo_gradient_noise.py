"""How noisy is one batch's thermodynamic gradient on Fashion-MNIST? (why fmnist_thermo_coupled)

On the fmnist_thermo network (784-256-10 tanh LayeredHopfield, inputs standardised globally, at
its initialisation) and one batch of 64 training images, compare each Monte-Carlo estimate of
∇J_β (β = 1) with its T → 0 limit, the one-sided EP gradient at the relaxed fixed points
(200 relaxation steps): cosine overall and per parameter, and the norm ratio. Langevin as in
fmnist_thermo.json (η = 0.4, 30 steps, 10 burn-in, 4 chains), independent or coupled chains.
Samplers: plain, coupled and Rao–Blackwellised ULA (``rao_blackwell="step"``: each sample
averaged over its step's noise), and conditional Rao–Blackwellisation
(``rao_blackwell="conditional"``: the hidden layer replaced by its exact conditional mean given
the output layer) on ULA and on block Gibbs (exact samples). Second table: the path integral
at T = 0.001 for several budgets (what closing its gap to finite nudge costs: seconds per batch,
mean of 3 repeats after one warm-up call).

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


class Sampled:
    """A sampler and the Rao–Blackwellisation its estimators take (``rao_blackwell``)."""

    def __init__(self, sampler, rao_blackwell: str | None = None) -> None:
        self.sampler, self.rao_blackwell = sampler, rao_blackwell

    def finite_nudge(self) -> te.FiniteNudge:
        return te.FiniteNudge(self.sampler, 1.0, rao_blackwell=self.rao_blackwell)

    def path_integral(self, nodes: int) -> te.PathIntegral:
        return te.PathIntegral(self.sampler, 1.0, nodes=nodes, rao_blackwell=self.rao_blackwell)


def langevin(temperature: float, coupled: bool, chains: int = 4,
             rao_blackwell: bool = False, conditional: bool = False) -> Sampled:
    return Sampled(te.Langevin(step_size=0.4, steps=30, burn_in=10, temperature=temperature,
                               chains=chains, coupled=coupled),
                   "step" if rao_blackwell else "conditional" if conditional else None)


def gibbs(temperature: float, chains: int = 4) -> Sampled:
    return Sampled(te.Gibbs(sweeps=12, burn_in=2, temperature=temperature, chains=chains),
                   "conditional")


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
    # (label, sampler factory(T), nodes): Langevin as in fmnist_thermo.json; block Gibbs as in
    # fmnist_thermo_conditional.json (12 sweeps, 2 burn-in, 2 Gauss–Legendre nodes)
    samplers = [
        ("ULA", lambda T: langevin(T, False), 4),
        ("ULA, coupled", lambda T: langevin(T, True), 4),
        ("ULA, Rao–Blackwellised step", lambda T: langevin(T, False, rao_blackwell=True), 4),
        ("ULA, conditional", lambda T: langevin(T, False, conditional=True), 4),
        ("Gibbs, conditional", lambda T: gibbs(T), 2),
    ]
    for T in (1e-3, 1e-2):
        for label, make, nodes in samplers:
            for name in ("finite-nudge", "path-integral"):
                if "coupled" in label and name == "path-integral":
                    continue  # coupling cancels noise shared by two phases, not a covariance's
                est = (make(T).finite_nudge() if name == "finite-nudge"
                       else make(T).path_integral(nodes))
                t0 = time.perf_counter()
                g = est(net, cost, x, y, generator=torch.Generator().manual_seed(args.seed + 1))
                rows.append({
                    "estimator": name, "sampler": label, "temperature": T, "nodes": nodes,
                    "cosine": g.cosine(limit),
                    "cosine_per_parameter": {k: te.Gradient({k: g[k]}).cosine({k: limit[k]})
                                             for k in g},
                    "norm_ratio": float(g.flat().norm() / limit.flat().norm()),
                    "seconds": time.perf_counter() - t0,
                })
    chain_rows = []
    costs = ([("ULA", c, 4, langevin(1e-3, False, c)) for c in (4, 16, 64)]
             + [("ULA, Rao–Blackwellised step", c, 4, langevin(1e-3, False, c, True))
                for c in (4, 8, 16)]
             + [("Gibbs, conditional", c, n, gibbs(1e-3, c)) for c, n in ((4, 2), (4, 3), (8, 2))])
    for label, chains, nodes, sampler in costs:
        est = sampler.path_integral(nodes)
        g = est(net, cost, x, y, generator=torch.Generator().manual_seed(args.seed + 1))
        chain_rows.append({"sampler": label, "chains": chains, "nodes": nodes,
                           "cosine": g.cosine(limit),
                           "norm_ratio": float(g.flat().norm() / limit.flat().norm()),
                           "seconds_per_batch": seconds_per_call(est, net, cost, x, y)})
    eta_rows = []  # ULA's bias seen through the conditional path integral, against η
    for eta, steps in ((0.4, 30), (0.2, 60), (0.1, 120)):
        sampler = te.Langevin(step_size=eta, steps=steps, burn_in=steps // 3, temperature=1e-3,
                              chains=4)
        g = te.PathIntegral(sampler, 1.0, nodes=4, rao_blackwell="conditional")(
            net, cost, x, y, generator=torch.Generator().manual_seed(args.seed + 1))
        eta_rows.append({"step_size": eta, "steps": steps, "cosine": g.cosine(limit),
                         "norm_ratio": float(g.flat().norm() / limit.flat().norm())})
    RESULTS.mkdir(exist_ok=True)
    out = {"network": "784-256-10 tanh LayeredHopfield at init", "batch": args.batch,
           "seed": args.seed, "beta": 1.0, "reference": "one-sided EP, relaxation 200 steps",
           "rows": rows, "path_integral_cost": chain_rows, "ula_bias": eta_rows}
    (RESULTS / "thermo_gradient_noise.json").write_text(json.dumps(out, indent=1))
    lines = ["# Noise of one batch's ∇J_β estimate (β = 1) against its T → 0 limit", "",
             "Command: `python benchmarks/thermo_gradient_noise.py` (network 784-256-10 tanh "
             "LayeredHopfield at init, one batch of 64 Fashion-MNIST training images, 4 chains; "
             "Langevin η = 0.4, 30 steps, 10 burn-in, path integral on 4 nodes; block Gibbs 12 "
             "sweeps, 2 burn-in, path integral on 2 nodes). A norm ratio above 1 is noise or "
             "bias: ULA's O(η) bias inflates the output layer's fluctuations, which the "
             "conditional estimator (exact given the output layer) carries in full; Gibbs "
             "samples p_b exactly.", "",
             "| estimator | sampler | T | cosine | cosine, input weights | norm ratio |",
             "|---|---|---|---|---|---|"]
    first = next(k for k, _ in net.named_parameters())  # the input weights
    for r in rows:
        lines.append(f"| {r['estimator']} | {r['sampler']} | {r['temperature']:g} | "
                     f"{r['cosine']:.4f} | {r['cosine_per_parameter'][first]:.4f} | "
                     f"{r['norm_ratio']:.3f} |")
    lines += ["", "Path integral, T = 0.001, independent chains: the cost of a better estimate "
              "(one thread; an epoch is 938 batches; timed while two training runs shared the "
              "2-core machine)", "",
              "| sampler | chains | nodes | cosine | norm ratio | s / batch | s / epoch |",
              "|---|---|---|---|---|---|---|"]
    for r in chain_rows:
        lines.append(f"| {r['sampler']} | {r['chains']} | {r['nodes']} | {r['cosine']:.4f} | "
                     f"{r['norm_ratio']:.3f} | {r['seconds_per_batch']:.2f} | "
                     f"{938 * r['seconds_per_batch']:.0f} |")
    lines += ["", "ULA's O(η) bias, seen by the conditional path integral (T = 0.001, 4 chains, 4 "
              "nodes, η × steps fixed, burn-in a third)", "",
              "| η | steps | cosine | norm ratio |", "|---|---|---|---|"]
    for r in eta_rows:
        lines.append(f"| {r['step_size']:g} | {r['steps']} | {r['cosine']:.4f} | "
                     f"{r['norm_ratio']:.3f} |")
    text = "\n".join(lines) + "\n"
    (RESULTS / "thermo_gradient_noise.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()

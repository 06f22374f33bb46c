"""Relaxation speed of LayeredHopfield([784, 256, 10]) on a batch of 128, against this machine's
measured matmul throughput in the same run.

FLOPs counted per relaxation step (block mode): the two layer fields ρ(s_0)W_1 and ρ(s_1)W_1ᵀ
(2·2·B·256·10), plus the input drive x W_0 (2·B·784·256) amortised over the phase's steps.
Elementwise work is not counted, so the fraction is a lower bound of "useful" utilisation.

Beside it, one forward pass of the same-size MLP (x → tanh(x W_1 + b_1) W_2 + b_2, torch.nn
layers, no autograd): a relaxation step should cost less than one.

    python benchmarks/core_speed.py [--steps 30] [--repeats 20]
Writes benchmarks/results/core_speed.json and prints the table.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch

import thermoep as te

OUT = Path(__file__).parent / "results" / "core_speed.json"


def matmul_gflops(n: int = 1024, repeats: int = 20) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    for _ in range(3):
        a @ b
    t = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * n**3 * repeats / (time.perf_counter() - t) / 1e9


def relaxation_rate(batch: int, steps: int, repeats: int, activation: str) -> dict:
    torch.manual_seed(0)
    net = te.LayeredHopfield([784, 256, 10], activation)
    cost = te.SquaredError()
    x, y = torch.rand(batch, 784), torch.randint(0, 10, (batch,))
    x, yt = te.samplers.base.prepare(net, cost, x, y)
    relax = te.Relaxation(steps=steps)
    with torch.no_grad():
        relax.settle(net, cost, x, yt, 0.0)  # warm-up
        t = time.perf_counter()
        for _ in range(repeats):
            _, residual, _ = relax.settle(net, cost, x, yt, 0.0)
        elapsed = time.perf_counter() - t
    steps_per_s = steps * repeats / elapsed
    flops_step = 2 * 2 * batch * 256 * 10 + 2 * batch * 784 * 256 / steps
    return {
        "activation": activation,
        "batch": batch,
        "steps_per_phase": steps,
        "steps_per_second": steps_per_s,
        "phases_per_second": repeats / elapsed,
        "gflops": steps_per_s * flops_step / 1e9,
        "final_residual": float(residual.max()),
    }


def mlp_forward_seconds(batch: int, repeats: int) -> float:
    """Seconds per forward pass of the 784-256-10 tanh MLP on a batch."""
    torch.manual_seed(0)
    mlp = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.Tanh(), torch.nn.Linear(256, 10))
    x = torch.rand(batch, 784)
    with torch.no_grad():
        for _ in range(10):
            mlp(x)
        t = time.perf_counter()
        for _ in range(repeats * 30):
            mlp(x)
        return (time.perf_counter() - t) / (repeats * 30)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--batch", type=int, default=128)
    args = p.parse_args()
    peak = matmul_gflops()
    rows = [relaxation_rate(args.batch, args.steps, args.repeats, a)
            for a in ("tanh", "hardsigmoid")]
    forward = mlp_forward_seconds(args.batch, args.repeats)
    for r in rows:
        r["matmul_gflops"] = peak
        r["fraction_of_matmul"] = r["gflops"] / peak
        r["mlp_forward_seconds"] = forward
        r["step_over_forward"] = 1.0 / r["steps_per_second"] / forward
    result = {
        "benchmark": "core_speed",
        "model": "LayeredHopfield([784, 256, 10])",
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "machine": platform.machine(),
        "rows": rows,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2))
    print(f"torch.mm 1024x1024: {peak:.1f} GFLOP/s on {torch.get_num_threads()} threads")
    print(f"MLP 784-256-10 forward pass, batch {args.batch}: {forward * 1e6:.0f} µs")
    print(f"{'activation':<12}{'steps/s':>10}{'GFLOP/s':>10}{'of mm':>8}{'residual':>11}"
          f"{'step/forward':>14}")
    for r in rows:
        print(f"{r['activation']:<12}{r['steps_per_second']:>10.0f}{r['gflops']:>10.2f}"
              f"{r['fraction_of_matmul']:>8.1%}{r['final_residual']:>11.2e}"
              f"{r['step_over_forward']:>14.2f}")
    print(f"written to {OUT}")


if __name__ == "__main__":
    main()

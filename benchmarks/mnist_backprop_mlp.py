"""The backprop MLP row of spectral-normalization-eqprop's tables: a feed-forward 784-256-10 tanh
network trained by backprop on MNIST, with and without spectral normalisation of its weights, at
the settings of ``benchmarks/mnist_spectral_norm_20ep.json`` (hidden 256, ½‖tanh(z) − y‖² on the
ten outputs as the EqProp models' cost, Adam 1e-3 with a cosine schedule per epoch, batch 64,
raw pixels in [0, 1], 20 epochs).

L after each epoch: the largest spectral norm of the Jacobian of x ↦ tanh(z(x)) over the first 64
test images (``torch.func.jacrev`` per image, ``torch.linalg.matrix_norm(ord=2)``): the network's
local Lipschitz constant, input to output. (For the EqProp models ``run.lipschitz`` measures the
relaxation map's contraction at the fixed point instead; the two are not the same quantity.)

    python benchmarks/mnist_backprop_mlp.py [--epochs 20] [--seed 0]

Needs the full MNIST (``make mnist``). Writes benchmarks/results/mnist_backprop_mlp.json and
prints one line per epoch.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.func import jacrev, vmap
from torch.nn.utils.parametrizations import spectral_norm

from thermoep.data import load_dataset

OUT = Path(__file__).parent / "results" / "mnist_backprop_mlp.json"
BATCH = 64


def network(sn: bool) -> torch.nn.Sequential:
    layers = [torch.nn.Linear(784, 256), torch.nn.Tanh(), torch.nn.Linear(256, 10),
              torch.nn.Tanh()]
    if sn:
        layers = [spectral_norm(m) if isinstance(m, torch.nn.Linear) else m for m in layers]
    return torch.nn.Sequential(*layers)


def lipschitz(net: torch.nn.Module, x: torch.Tensor) -> float:
    """max over the rows of x of ‖∂ net(x) / ∂x‖₂ (eval mode: no power-iteration step)."""
    net.eval()
    with torch.no_grad():
        jac = vmap(jacrev(lambda v: net(v.unsqueeze(0)).squeeze(0)))(x)   # [N, 10, 784]
    net.train()
    return float(torch.linalg.matrix_norm(jac, ord=2).max())


def train(sn: bool, seed: int, data, epochs: int, lr: float) -> dict:
    torch.manual_seed(seed)
    net = network(sn)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    n = data.train_y.shape[0]
    gen = torch.Generator().manual_seed(seed)
    probe = data.test_x[:64]
    trace = []
    t0 = time.perf_counter()
    for epoch in range(epochs):
        order = torch.randperm(n, generator=gen)
        for b in range(math.ceil(n / BATCH)):
            idx = order[b * BATCH:(b + 1) * BATCH]
            out = net(data.train_x[idx])
            target = F.one_hot(data.train_y[idx], 10).to(out.dtype)
            loss = 0.5 * ((out - target) ** 2).sum(-1).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        sched.step()
        net.eval()
        with torch.no_grad():
            test = float((net(data.test_x).argmax(-1) == data.test_y).float().mean())
        L = lipschitz(net, probe)
        trace.append({"epoch": epoch + 1, "test_accuracy": test, "lipschitz": L})
        print(f"sn={sn!s:5} seed {seed} epoch {epoch + 1:2d}: test {100 * test:.2f} %  "
              f"L {L:.3f}", flush=True)
    return {"spectral_norm": sn, "seed": seed, "trace": trace,
            "seconds": time.perf_counter() - t0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    torch.set_num_threads(1)
    data = load_dataset("mnist")
    runs = [train(sn, args.seed, data, args.epochs, args.lr) for sn in (True, False)]
    args.out.parent.mkdir(exist_ok=True)
    args.out.write_text(json.dumps({
        "command": f"python benchmarks/mnist_backprop_mlp.py --epochs {args.epochs} --seed "
                   f"{args.seed} --lr {args.lr}",
        "settings": {"net": "784-256-10 tanh, feed-forward", "cost": "½‖tanh(z) − y‖²",
                     "optimizer": "adam", "lr": args.lr, "schedule": "cosine",
                     "batch_size": BATCH, "epochs": args.epochs, "inputs": "raw pixels"},
        "runs": runs}, indent=1) + "\n")
    print(f"written {args.out}")


if __name__ == "__main__":
    main()

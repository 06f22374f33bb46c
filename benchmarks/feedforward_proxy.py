"""What the output cost does to a 784-256-256-10 tanh network without feedback, trained by backprop.

A plain feed-forward MLP (no energy, no relaxation) with the optimiser settings of
``fmnist_hybrid.json`` (SGD 0.05, momentum 0.9, weight decay 1e-4, batch 128, cosine schedule per
epoch down to 1 % of the rate, linear warm-up over the first epoch, 15 epochs, globally
standardised pixels), once with ten tanh outputs under ½‖tanh(z) − y‖² (the cost of the seed's
network) and once with a softmax read-out under cross-entropy (``thermoep.SoftmaxReadout``).
It isolates the effect of the cost from that of the estimator: it is the evidence behind
``fmnist_hybrid_readout.json``.

    python benchmarks/feedforward_proxy.py            # 3 seeds × 2 costs, ≈ 20 s per run
    python benchmarks/feedforward_proxy.py --lr 0.02 --epochs 25 --costs softmax-readout \
        --out benchmarks/results/feedforward_proxy_lr0.02_e25.json
    python benchmarks/feedforward_proxy.py --lr 0.02 --epochs 50 --hflip --costs softmax-readout \
        --out benchmarks/results/feedforward_proxy_flip_lr0.02_e50.json   # session-10 screens

Writes ``benchmarks/results/feedforward_proxy.json`` (or ``--out``) and prints the table.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from thermoep.data import Augment, load_dataset

OUT = Path(__file__).parent / "results" / "feedforward_proxy.json"
SEEDS = (42, 123, 456)
COSTS = ("squared-error", "softmax-readout")
BATCH = 128


def train(cost: str, seed: int, data, *, lr: float = 0.05, weight_decay: float = 1e-4,
          epochs: int = 15, label_smoothing: float = 0.0, hflip: bool = False) -> dict:
    torch.manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.Tanh(),
                              torch.nn.Linear(256, 256), torch.nn.Tanh(),
                              torch.nn.Linear(256, 10))
    opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=0.9, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs, eta_min=lr * 1e-2)
    n = data.train_y.shape[0]
    batches = math.ceil(n / BATCH)
    gen = torch.Generator().manual_seed(seed)
    augment = Augment.for_data(data.train_x, (28, 28), hflip=hflip)
    t0 = time.perf_counter()
    for epoch in range(epochs):
        order = torch.randperm(n, generator=gen)
        for b in range(batches):
            idx = order[b * BATCH:(b + 1) * BATCH]
            z = net(augment(data.train_x[idx], gen))
            y = data.train_y[idx]
            if cost == "squared-error":
                loss = 0.5 * ((torch.tanh(z) - F.one_hot(y, 10).to(z.dtype)) ** 2).sum(-1).mean()
            else:
                loss = F.cross_entropy(z, y, label_smoothing=label_smoothing)
            opt.zero_grad()
            loss.backward()
            warm = min(1.0, (epoch * batches + b + 1) / batches)  # the first epoch: warm-up
            for g in opt.param_groups:
                g["lr"] *= warm
            opt.step()
            for g in opt.param_groups:
                g["lr"] /= warm
        sched.step()
    with torch.no_grad():
        test = float((net(data.test_x).argmax(-1) == data.test_y).float().mean())
        train_acc = float((net(data.train_x).argmax(-1) == data.train_y).float().mean())
    return {"cost": cost, "seed": seed, "test_accuracy": test, "train_accuracy": train_acc,
            "seconds": time.perf_counter() - t0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--weight-decay", type=float, default=1e-4)
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--label-smoothing", type=float, default=0.0,
                    help="softmax read-out only: targets (1 − ε)·one-hot + ε/10")
    ap.add_argument("--costs", nargs="+", choices=COSTS, default=list(COSTS))
    ap.add_argument("--hflip", action="store_true", help="mirror each training image with p = ½")
    ap.add_argument("--standardize", choices=("global", "feature", "none"), default="global")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    torch.set_num_threads(1)
    data = load_dataset("fashion-mnist", standardize=args.standardize)
    rows = []
    for cost in args.costs:
        for seed in SEEDS:
            rows.append(train(cost, seed, data, lr=args.lr, weight_decay=args.weight_decay,
                              epochs=args.epochs, label_smoothing=args.label_smoothing,
                              hflip=args.hflip))
            r = rows[-1]
            print(f"{cost:16s} seed {seed}: test {100 * r['test_accuracy']:.2f} %  "
                  f"train {100 * r['train_accuracy']:.2f} %  ({r['seconds']:.0f} s)", flush=True)
    summary = {}
    for cost in args.costs:
        acc = torch.tensor([r["test_accuracy"] for r in rows if r["cost"] == cost])
        summary[cost] = {"mean": float(acc.mean()), "std": float(acc.std())}
        print(f"{cost:16s} mean {100 * acc.mean():.2f} % ± {100 * acc.std():.2f}")
    args.out.parent.mkdir(exist_ok=True)
    settings = {"epochs": args.epochs, "batch_size": BATCH, "lr": args.lr,
                "weight_decay": args.weight_decay, "label_smoothing": args.label_smoothing,
                "standardize": args.standardize, "hflip": args.hflip,
                "net": "784-256-256-10 tanh, feed-forward"}
    args.out.write_text(json.dumps({"settings": settings, "runs": rows, "summary": summary},
                                   indent=1))
    print(f"written {args.out}")


if __name__ == "__main__":
    main()

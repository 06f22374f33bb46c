"""Speed and accuracy against the reference PyTorch EP code (Laborieux et al. 2021) on its own
configuration: Fashion-MNIST, 784-512-10 MLP, ρ(s) = sigmoid(4(s − ½)), centered EP, β = 0.1,
30 free / 10 nudged steps, batch 50, Adam 5e-4, 3 epochs.

Reference on this machine kind (the brief): ≈ 52 s per epoch, 86.95 % test accuracy after
3 epochs. Goal: ≤ 52/5 = 10.4 s per epoch at equal or better accuracy.

    python benchmarks/fmnist_speed.py [--epochs 3] [--seeds 0]
Needs Fashion-MNIST (`apt-get install dataset-fashion-mnist`). Writes
benchmarks/results/fmnist_speed.{json,md}. Run it alone: concurrent torch processes on 2 cores
slow each other badly. "train s/epoch" is the training loop alone; "total s/epoch" adds the
free-phase evaluation on the 10,000 test images each epoch.
"""

from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

import torch

from thermoep.experiment import TrainConfig, run

OUT = Path(__file__).parent / "results"
REFERENCE = {"seconds_per_epoch": 52.0, "test_accuracy_3_epochs": 0.8695}


def config(seed: int, epochs: int) -> TrainConfig:
    return TrainConfig(
        dataset="fashion-mnist", sizes=(784, 512, 10), activation="sigmoid4",
        estimator="centered", beta=0.1, sampler="relax", steps=30, nudged_steps=10,
        step_size=0.5, batch_size=50, optimizer="adam", lr=5e-4, schedule="constant",
        epochs=epochs, seed=seed,
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    args = p.parse_args()
    rows = []
    for seed in args.seeds:
        ds = run(config(seed, args.epochs), quiet=False)
        wall = ds["wall_seconds"].values
        rows.append({
            "seed": seed,
            "test_accuracy": [float(v) for v in ds["test_accuracy"].values],
            "total_seconds_per_epoch": float(wall[-1] / len(wall)),
            "train_seconds_per_epoch": float(ds["train_seconds"].values.mean())
            if "train_seconds" in ds else None,
        })
    mean = lambda k: sum(r[k] for r in rows) / len(rows)  # noqa: E731
    acc = sum(r["test_accuracy"][-1] for r in rows) / len(rows)
    result = {
        "benchmark": "fmnist_speed", "config": config(0, args.epochs).to_dict(),
        "torch": torch.__version__, "threads": torch.get_num_threads(),
        "machine": platform.machine(), "reference": REFERENCE, "rows": rows,
        "test_accuracy_final_mean": acc,
        "total_seconds_per_epoch_mean": mean("total_seconds_per_epoch"),
        "speedup_vs_reference_total": REFERENCE["seconds_per_epoch"]
        / mean("total_seconds_per_epoch"),
    }
    if rows[0]["train_seconds_per_epoch"] is not None:
        result["train_seconds_per_epoch_mean"] = mean("train_seconds_per_epoch")
        result["speedup_vs_reference_train"] = (REFERENCE["seconds_per_epoch"]
                                               / mean("train_seconds_per_epoch"))
    OUT.mkdir(exist_ok=True)
    (OUT / "fmnist_speed.json").write_text(json.dumps(result, indent=2))
    md = [
        "# Fashion-MNIST, reference configuration (Laborieux et al. 2021)", "",
        f"Command: `python benchmarks/fmnist_speed.py --epochs {args.epochs} --seeds "
        f"{' '.join(map(str, args.seeds))}`", "",
        "| | test accuracy after last epoch | s/epoch (train) | s/epoch (train + test eval) |",
        "|---|---|---|---|",
        f"| reference (brief) | {REFERENCE['test_accuracy_3_epochs']:.2%} | "
        f"≈ {REFERENCE['seconds_per_epoch']:.0f} | – |",
        f"| thermoep | {acc:.2%} | "
        f"{result.get('train_seconds_per_epoch_mean', float('nan')):.1f} | "
        f"{result['total_seconds_per_epoch_mean']:.1f} |",
    ]
    (OUT / "fmnist_speed.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()

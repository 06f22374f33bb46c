"""Speed and accuracy against the reference PyTorch EP code (Laborieux et al. 2021) on its own
configuration: Fashion-MNIST, 784-512-10 MLP, ρ(s) = sigmoid(4(s − ½)), centered EP, β = 0.1,
30 free / 10 nudged steps, batch 50, Adam 5e-4, 3 epochs.

The reference code's network is the "prototypical" one (s ← σ(∂Φ/∂s) with a bilinear Φ):
``--energy prototypical`` (thermoep.PrototypicalHopfield, relaxed by exact block minimisation,
step 1). ``hopfield`` is LayeredHopfield with the same ρ (interactions through ρ(s), step 0.5);
both are run by default, one table row each.

Reference on this machine kind (the brief): ≈ 52 s per epoch, 86.95 % test accuracy after
3 epochs. Goal: ≤ 52/5 = 10.4 s per epoch at equal or better accuracy.

    python benchmarks/fmnist_speed.py [--epochs 3] [--seeds 0] [--energies prototypical hopfield]
Needs Fashion-MNIST (`apt-get install dataset-fashion-mnist`). Writes
benchmarks/results/fmnist_speed.{json,md} (``--name``: another file name). Run it alone:
concurrent torch processes on 2 cores slow each other badly. "train s/epoch" is the training
loop alone; "total s/epoch" adds the free-phase evaluation on the 10,000 test images each epoch.
"""

from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

import numpy as np
import torch

from thermoep.config import RunConfig
from thermoep.experiment import run

OUT = Path(__file__).parent / "results"
REFERENCE = {"seconds_per_epoch": 52.0, "test_accuracy_3_epochs": 0.8695}


def config(seed: int, epochs: int, energy: str = "prototypical") -> RunConfig:
    return RunConfig.of(
        dataset="fashion-mnist", hidden=(512,), activation="sigmoid4", energy=energy,
        estimator="centered", beta=0.1, sampler="relax", steps=30, nudged_steps=10,
        step_size=1.0 if energy == "prototypical" else 0.5, batch_size=50, optimizer="adam",
        lr=5e-4, schedule="constant", epochs=epochs, seed=seed,
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--energies", nargs="+", default=["prototypical", "hopfield"])
    p.add_argument("--name", default="fmnist_speed",
                   help="results are written to benchmarks/results/<name>.{json,md}")
    args = p.parse_args()
    result = {"benchmark": "fmnist_speed", "torch": torch.__version__,
              "threads": torch.get_num_threads(), "machine": platform.machine(),
              "reference": REFERENCE, "energies": {}}
    md = [
        "# Fashion-MNIST, reference configuration (Laborieux et al. 2021)", "",
        f"Command: `python benchmarks/fmnist_speed.py --epochs {args.epochs} --seeds "
        f"{' '.join(map(str, args.seeds))} --energies {' '.join(args.energies)}"
        f"{'' if args.name == 'fmnist_speed' else ' --name ' + args.name}`", "",
        "784-512-10, ρ = sigmoid(4(s − ½)), centered EP, β = 0.1, 30 free / 10 nudged steps, "
        "batch 50, Adam 5e-4. Accuracy: mean ± std over seeds after the last epoch.", "",
        "| | test accuracy | per seed | s/epoch (train) | s/epoch (train + test eval) |",
        "|---|---|---|---|---|",
        f"| reference (brief) | {REFERENCE['test_accuracy_3_epochs']:.2%} | – | "
        f"≈ {REFERENCE['seconds_per_epoch']:.0f} | – |",
    ]
    for energy in args.energies:
        rows = []
        for seed in args.seeds:
            ds = run(config(seed, args.epochs, energy), quiet=False)
            wall = ds["wall_seconds"].values
            rows.append({
                "seed": seed,
                "test_accuracy": [float(v) for v in ds["test_accuracy"].values],
                "total_seconds_per_epoch": float(wall[-1] / len(wall)),
                "train_seconds_per_epoch": float(ds["train_seconds"].values.mean()),
            })
        finals = np.array([r["test_accuracy"][-1] for r in rows])
        res = {
            "config": config(0, args.epochs, energy).to_dict(), "rows": rows,
            "test_accuracy_final_mean": float(finals.mean()),
            "test_accuracy_final_std": float(finals.std(ddof=1)) if len(finals) > 1 else 0.0,
            "train_seconds_per_epoch_mean": float(np.mean([r["train_seconds_per_epoch"]
                                                           for r in rows])),
            "total_seconds_per_epoch_mean": float(np.mean([r["total_seconds_per_epoch"]
                                                           for r in rows])),
        }
        res["speedup_vs_reference_train"] = (REFERENCE["seconds_per_epoch"]
                                             / res["train_seconds_per_epoch_mean"])
        result["energies"][energy] = res
        md.append(
            f"| thermoep, {energy} | {100 * finals.mean():.2f} ± "
            f"{100 * res['test_accuracy_final_std']:.2f}% | "
            f"{', '.join(f'{100 * a:.2f}' for a in finals)} | "
            f"{res['train_seconds_per_epoch_mean']:.1f} | "
            f"{res['total_seconds_per_epoch_mean']:.1f} |")
    OUT.mkdir(exist_ok=True)
    (OUT / f"{args.name}.json").write_text(json.dumps(result, indent=2))
    (OUT / f"{args.name}.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()

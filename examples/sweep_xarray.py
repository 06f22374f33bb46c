"""A tiny sweep (estimator × seed) on the embedded digits, analysed with xarray.

``thermoep.sweep.sweep`` trains every combination of its grid — here one-sided and centered EP
(T = 0) × seeds 0 and 1, 2 epochs each — and returns one xarray Dataset with the grid's keys and
``epoch`` as dims (``thermoep sweep -e one-sided -e centered -s 0 -s 1 --set epochs=2`` does
the same from the shell). The rest is plain xarray: the final epoch, mean and std over seeds,
``.sel`` by coordinate, a table. The Dataset's attrs hold every run's full configuration.

    python examples/sweep_xarray.py                   # about 15 s on one core
    python examples/sweep_xarray.py --out sweep.nc    # also write it (netCDF); rerun: reused
"""

from __future__ import annotations

import argparse
import json

import thermoep.sweep


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=None, help="results file (netCDF); default: not written")
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()

    base = {"data": {"name": "digits"},
            "model": {"name": "hopfield", "hidden": [64]},
            "sampler": {"name": "relax", "steps": 20, "nudged_steps": 10},
            "estimator": {"beta": 0.2},
            "run": {"epochs": args.epochs, "batch_size": 32, "device": "cpu"}}
    grid = {"estimator": ["one-sided", "centered"], "seed": [0, 1]}

    def progress(done, total, values, reused):
        print(f"run {done}/{total} {'reused' if reused else 'trained'}: {values}")

    ds = thermoep.sweep.sweep(base, grid, out=args.out, progress=progress)
    print(f"dims {dict(ds.sizes)}")

    final = ds.isel(epoch=-1)                         # dims (estimator, seed)
    acc = 100 * final["test_accuracy"]
    table = acc.mean("seed").to_pandas().to_frame("test % (mean)")
    table["test % (std)"] = acc.std("seed").to_pandas()
    table["train loss"] = final["train_loss"].mean("seed").to_pandas()
    table["nudged phases"] = final["nudged_phases"].mean("seed").to_pandas()
    table["s per epoch"] = ds["train_seconds"].mean(("seed", "epoch")).to_pandas()
    print(table.round(3).to_string())

    centered = ds["test_accuracy"].sel(estimator="centered", seed=0)
    print("centered, seed 0, test accuracy per epoch:",
          " ".join(f"{float(v):.3f}" for v in centered))
    ratio = final["nudged_phases"].sel(estimator="one-sided") / \
        final["nudged_phases"].sel(estimator="centered")
    print(f"one-sided spends {float(ratio.mean()):.2f} of centered's nudged phases")
    runs = json.loads(ds.attrs["run_configs"])
    print(f"{len(runs)} run configs in attrs; the first: estimator "
          f"{runs[0]['config']['estimator']['name']!r}, sampler "
          f"{runs[0]['config']['sampler']['name']!r}")


if __name__ == "__main__":
    main()

"""The fmnist_speed configuration relaxed synchronously (Jacobi), as the reference code does.

    OMP_NUM_THREADS=1 python benchmarks/results/explorations/speed_jacobi.py 0 1 2 3 4
"""

import sys
from pathlib import Path

import thermoep.experiment as ex

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # benchmarks/
from fmnist_speed import config  # noqa: E402

_make_sampler = ex.make_sampler


def jacobi_sampler(cfg):
    sampler = _make_sampler(cfg)
    sampler.mode = "jacobi"
    return sampler


ex.make_sampler = jacobi_sampler
for seed in map(int, sys.argv[1:]):
    ds = ex.run(config(seed, 3, "prototypical"), quiet=True)
    print(seed, [round(100 * float(v), 2) for v in ds.test_accuracy.values],
          round(float(ds.train_seconds.values.mean()), 1), "jacobi", flush=True)

"""Reference config with Jacobi (synchronous) relaxation, as the reference code's dynamics."""
import sys
import thermoep.experiment as ex
sys.path.insert(0, "/work/main/benchmarks")
from fmnist_speed import config

orig = ex.make_sampler
def jac(cfg):
    s = orig(cfg); s.mode = "jacobi"; return s
ex.make_sampler = jac
for seed in map(int, sys.argv[1:]):
    ds = ex.run(config(seed, 3, "prototypical"), quiet=True)
    print(seed, [round(100 * float(v), 2) for v in ds.test_accuracy.values],
          round(float(ds.train_seconds.values.mean()), 1), "jacobi", flush=True)

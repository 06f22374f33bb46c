"""The prepared GPU check: what a machine with CUDA can tell us in a few minutes.

    python benchmarks/gpu_check.py                 # after `make install`, or PYTHONPATH=.
    python benchmarks/gpu_check.py --device cpu --tiny   # the same code on the CPU, small

1. the device-generic tests (``tests/test_device.py``) with ``THERMOEP_TEST_DEVICE=cuda``;
2. one epoch of the Fashion-MNIST reference configuration (``benchmarks/fmnist_speed.py``'s
   settings), if the data is present;
3. 200 training batches of the seed-sized deep convolutional Hopfield network (ebl-algorithms-
   comparative-study §3: 128-256-512-512 channels, 3×3 convolutions, 2×2 max pooling,
   hard-sigmoid units, batch 128, 32 × 32 × 3 inputs; centered EP with 20 free and 15 nudged
   steps, the seed's 15–20 training iterations) on generated CIFAR-shaped tensors, in float32
   and in float16 (the relaxation's states and convolutions; parameters float32);
4. thermodynamic EP against T = 0 EP on the device (``benchmarks/thermo_speed.py``'s rows:
   784-256-10 tanh, batch 64, T = 0.001; centered, finite nudge with coupled ULA at the table's
   30 jacobi steps and in blocks mode, the path integral with block Gibbs) on generated
   standardised inputs (the timing does not depend on the images): ms per training step and
   the ratio to the centered step, the issue's ≤ 2× and ≤ 5×.

Each part prints one JSON line (seconds per batch, seconds per epoch extrapolated to CIFAR's
50,000 training images, peak memory) and the lines are written to ``--out`` (default
benchmarks/results/gpu_check.jsonl). Without CUDA it says so and exits 0. Needs neither Pyro nor
netCDF4 (the GPU machines have neither): nothing here imports them (the estimators' chain
diagnostics, which read Pyro, are computed only when read, and nothing here reads them).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # runs from the checkout without an install

import thermoep as te  # noqa: E402
from thermoep.energies.architectures import ENERGIES  # noqa: E402

OUT = ROOT / "benchmarks" / "results" / "gpu_check.jsonl"
CIFAR_TRAIN = 50_000


def emit(lines: list, record: dict) -> None:
    print(json.dumps(record), flush=True)
    lines.append(record)


def peak_memory(device: torch.device) -> float | None:
    if device.type != "cuda":
        return None
    return torch.cuda.max_memory_allocated(device) / 2**20


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def device_tests(device: torch.device, lines: list) -> None:
    env = dict(os.environ, THERMOEP_TEST_DEVICE=str(device), PYTHONPATH=str(ROOT))
    t = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                        str(ROOT / "tests" / "test_device.py")], env=env, cwd=ROOT,
                       capture_output=True, text=True)
    tail = (r.stdout + r.stderr).strip().splitlines()[-1:] or [""]
    emit(lines, {"part": "device_tests", "device": str(device), "exit_code": r.returncode,
                 "summary": tail[0], "seconds": round(time.perf_counter() - t, 1)})


def fmnist_epoch(device: torch.device, lines: list) -> None:
    from thermoep.experiment import run

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from fmnist_speed import config

    try:
        cfg = config(0, 1).with_values({"device": str(device)})
        t = time.perf_counter()
        ds = run(cfg, quiet=True)
    except FileNotFoundError as exc:
        emit(lines, {"part": "fmnist_epoch", "skipped": f"Fashion-MNIST not found: {exc}"})
        return
    emit(lines, {"part": "fmnist_epoch", "device": str(device),
                 "train_seconds": float(ds["train_seconds"].values[0]),
                 "total_seconds": round(time.perf_counter() - t, 2),
                 "test_accuracy": float(ds["test_accuracy"].values[0]),
                 "peak_memory_mib": peak_memory(device)})


def dchn_batches(device: torch.device, lines: list, *, precision: str | None, batches: int,
                 batch: int, channels, size: int) -> None:
    torch.manual_seed(0)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    net = ENERGIES["dchn"]((3, size, size), 10, channels=channels).to(device)
    cost = te.SquaredError()
    est = te.Centered(te.Relaxation(steps=20, nudged_steps=15, step_size=1.0,
                                    precision=precision), beta=0.5)
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    gen = torch.Generator(device=device).manual_seed(0)
    x = torch.rand(batch, 3 * size * size, generator=gen, device=device)
    y = torch.randint(0, 10, (batch,), generator=gen, device=device)

    def one():
        g = est(net, cost, x, y)
        g.apply_(net)
        opt.step()
        return g

    one()  # warm-up (kernels, caches)
    sync(device)
    t = time.perf_counter()
    for _ in range(batches):
        g = one()
    sync(device)
    per_batch = (time.perf_counter() - t) / batches
    emit(lines, {"part": "dchn", "device": str(device), "precision": precision or "float32",
                 "channels": list(channels), "batch": batch, "input": [3, size, size],
                 "free_steps": 20, "nudged_steps": 15, "batches": batches,
                 "seconds_per_batch": per_batch,
                 "seconds_per_epoch": per_batch * math.ceil(CIFAR_TRAIN / batch),
                 "free_residual": float(g.stats["free_residual"]),
                 "peak_memory_mib": peak_memory(device)})


def thermo_step_ms(cfg, device: torch.device, xs, ys) -> float:
    """ms per training step (estimator, gradient, Adam) of ``cfg``'s estimator over the batches
    ``xs[1:]`` after one warm-up step on ``xs[0]``."""
    cfg = cfg.resolved()
    torch.manual_seed(0)
    model, cost = cfg.make_model((xs.shape[-1],), 10)
    model = model.to(device)
    est = cfg.make_estimator()
    opt = torch.optim.Adam(model.parameters(), lr=cfg.optim.lr)
    gen = torch.Generator(device=device).manual_seed(0)

    def step(i):
        opt.zero_grad(set_to_none=True)
        g = est(model, cost, xs[i], ys[i], generator=gen)
        g.apply_(model, cost)
        opt.step()

    step(0)  # warm-up (kernels, caches)
    sync(device)
    t = time.perf_counter()
    for i in range(1, xs.shape[0]):
        step(i)
    sync(device)
    return 1e3 * (time.perf_counter() - t) / (xs.shape[0] - 1)


def thermo_rows(device: torch.device, lines: list, *, batches: int, batch: int) -> None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from thermo_speed import BASE, CONFIGS

    from thermoep.config import RunConfig

    rows = ("centered", "finite-nudge", "finite-nudge-blocks", "finite-nudge-blocks15",
            "path-integral-warm6", "path-integral")
    gen = torch.Generator(device=device).manual_seed(0)
    xs = torch.randn(batches + 1, batch, 784, generator=gen, device=device)
    ys = torch.randint(0, 10, (batches + 1, batch), generator=gen, device=device)
    ms = {name: thermo_step_ms(RunConfig.of(**{**BASE, **CONFIGS[name], "batch_size": batch,
                                               "device": str(device)}), device, xs, ys)
          for name in rows}
    emit(lines, {"part": "thermo", "device": str(device), "batch": batch, "batches": batches,
                 "ms_per_batch": ms,
                 "ratio_to_centered": {k: v / ms["centered"] for k, v in ms.items()}})


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda")
    p.add_argument("--tiny", action="store_true", help="small sizes (a check of the code path)")
    p.add_argument("--out", type=Path, default=OUT)
    args = p.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("gpu_check: CUDA is not available on this machine; nothing to check (exit 0)")
        return 0
    lines: list = []
    emit(lines, {"part": "machine", "device": str(device), "torch": torch.__version__,
                 "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
                 "python": platform.python_version(), "tiny": args.tiny})
    if not args.tiny:
        device_tests(device, lines)
        fmnist_epoch(device, lines)
    shape = dict(batches=2, batch=4, channels=(4, 8), size=8) if args.tiny else \
        dict(batches=200, batch=128, channels=(128, 256, 512, 512), size=32)
    for precision in (None, "float16"):
        try:
            dchn_batches(device, lines, precision=precision, **shape)
        except RuntimeError as exc:  # e.g. float16 convolutions without kernels on a CPU
            emit(lines, {"part": "dchn", "precision": precision or "float32",
                         "error": str(exc).splitlines()[0]})
    thermo_rows(device, lines, **(dict(batches=2, batch=4) if args.tiny else
                                  dict(batches=50, batch=64)))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("".join(json.dumps(r) + "\n" for r in lines))
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

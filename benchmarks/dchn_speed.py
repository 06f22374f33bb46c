"""Speed of the deep convolutional Hopfield network (DCHN, ebl-algorithms-comparative-study §3)
on this CPU: seconds per training batch, and asynchronous against synchronous relaxation.

1. Seconds per training batch of centered EP with the seed's settings (its reference code,
   ``papers/ebl-algorithms/comparative-study.py``): β = 0.25, a free phase of 60 fixed-point
   iterations (the inference minimiser the trainer settles each batch with) and two nudged
   phases of 15 (``num_iterations_training``), asynchronous (even/odd) updates, step 1 (the
   fixed-point map s ← Π(h)), squared error on 10 linear outputs, SGD (momentum 0.9, weight
   decay 3e-4), batch 128. One batch = the estimator call + the gradient write + the SGD step.
   Inputs are generated (uniform in [0, 1]; CIFAR-10 is not on this machine): the work per
   batch does not depend on pixel values (every convolution and step runs at a fixed count).
   The seed-sized network is 128-256-512-512 channels on 32×32×3 inputs; the CPU-sized one is
   ``dchn``'s default, 32-64 channels, on 28×28×1 (Fashion-MNIST-shaped) inputs. Before the
   timed batches one warm-up batch runs at the same sizes with 1 free and 1 nudged step (it
   reaches every operation once: first-call allocations and oneDNN primitive creation) and is
   not counted. Unlike the seed's trainer, each batch's free phase starts from the energy's
   initial state (the reference keeps the previous batch's state): the cost is the same.
2. Asynchronous (``Relaxation(mode="blocks")``: even layers, then odd layers) against
   synchronous (``mode="jacobi"``: every layer from the previous state) free-phase relaxation of
   the CPU-sized DCHN on one fixed batch, each run until its residual is below ``--tol`` (at most
   ``--max-steps``), step 1 for both. The residual ``tol`` reads is the relaxation's own: per
   sample, √(Σ_layers ‖Δs_l‖²)/η over one step (one sweep of all blocks), stopped when its
   largest value over the batch is below ``tol``. Because the two modes measure Δs along
   different sweeps, both final states are also scored by one common measure: the residual of
   one synchronous step from that state (``jacobi_residual``). Reported: steps and seconds to
   the tolerance, their ratios (sync / async), the largest |Δs| between the two final states,
   their mean energies, and the residual each mode reaches after the same number of steps (the
   asynchronous run's count). With max pooling (the seed's) the energy is not convex (the
   argmax moves with ρ), so the two modes may settle into different minima; the same
   comparison with average pooling (a unique fixed point at this size) is the control.

    python benchmarks/dchn_speed.py [--seed-batches 1] [--small-batches 2] [--tol 1e-4]
Writes benchmarks/results/<name>.{json,md} and prints the table. Run it alone (two torch
processes on two cores slow each other several-fold); the seed-sized batch takes minutes here.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import torch

from thermoep import __version__
from thermoep.config import RunConfig
from thermoep.experiment import make_optimizer
from thermoep.samplers.base import Target, prepare

OUT = Path(__file__).parent / "results"
CLASSES = 10
SEED_CHANNELS = (128, 256, 512, 512)
SMALL_CHANNELS = (32, 64)
#: the seed's training settings (its reference code, comparative-study.py)
SEED = dict(beta=0.25, free_steps=60, nudged_steps=15, step_size=1.0, lr=0.025, momentum=0.9,
            weight_decay=3e-4)


def config(channels, *, batch: int = 128, free_steps: int = SEED["free_steps"],
           nudged_steps: int = SEED["nudged_steps"], pool: str = "max", mode: str = "blocks",
           tol: float = 0.0) -> RunConfig:
    """The run config of a DCHN trained by centered EP with the seed's settings."""
    return RunConfig.of(energy="dchn", model__channels=list(channels), model__pool=pool,
                        cost="squared-error", sampler="relax", steps=free_steps,
                        nudged_steps=nudged_steps, step_size=SEED["step_size"], tol=tol,
                        sampler__mode=mode, estimator="centered", beta=SEED["beta"],
                        optimizer="sgd", lr=SEED["lr"], momentum=SEED["momentum"],
                        weight_decay=SEED["weight_decay"], schedule="constant",
                        batch_size=batch).resolved()


def synthetic_batch(inputs, batch: int, seed: int = 0):
    """Generated CIFAR/Fashion-MNIST-shaped inputs in [0, 1] (flattened) and labels."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(batch, *inputs, generator=g).flatten(1)
    return x, torch.randint(0, CLASSES, (batch,), generator=g)


def seconds_per_batch(channels, inputs, *, batch: int = 128, batches: int = 1,
                      free_steps: int = SEED["free_steps"],
                      nudged_steps: int = SEED["nudged_steps"]) -> dict:
    """Seconds per training batch (estimator + gradient write + SGD step), after a 1-step warm-up
    batch; one fixed generated batch (the cost does not depend on its values)."""
    cfg = config(channels, batch=batch, free_steps=free_steps, nudged_steps=nudged_steps)
    torch.manual_seed(cfg.run.seed)
    model, cost = cfg.make_model(tuple(inputs), CLASSES)
    opt, _ = make_optimizer(cfg, model, cost)
    est = cfg.make_estimator()
    warm = config(channels, batch=batch, free_steps=1, nudged_steps=1).make_estimator()
    x, y = synthetic_batch(inputs, batch)

    def train_step(estimator):
        opt.zero_grad(set_to_none=True)
        g = estimator(model, cost, x, y)
        g.apply_(model, cost)
        opt.step()
        return g

    train_step(warm)
    times = []
    for _ in range(batches):
        t = time.perf_counter()
        g = train_step(est)
        times.append(time.perf_counter() - t)
    per_batch = sum(times) / len(times)
    steps = free_steps + 2 * nudged_steps
    return {"channels": list(channels), "inputs": list(inputs), "batch": batch,
            "free_steps": free_steps, "nudged_steps": nudged_steps, "beta": SEED["beta"],
            "batches": batches, "batch_seconds": times, "seconds_per_batch": per_batch,
            "seconds_per_step": per_batch / steps,
            "free_residual": float(g.stats["free_residual"]), "loss": float(g.loss)}


def _settle(sampler, target):
    """The relaxation loop of ``Relaxation.settle`` (init, step, stop at ``tol``), keeping the
    largest residual of every step."""
    state = sampler.init(target)
    trace = []
    for t in range(state.steps):
        state, _ = sampler.step(target, state, t)
        if state.residual is not None:  # measured each step when tol > 0
            trace.append(float(state.residual.max()))
        if sampler.converged(state):
            break
    return state.position, trace


def relaxation_modes(channels=SMALL_CHANNELS, inputs=(1, 28, 28), *, batch: int = 128,
                     tol: float = 1e-4, max_steps: int = 1000, pool: str = "max") -> dict:
    """Free-phase relaxation to ``tol`` in both modes on one fixed batch (module docstring)."""
    cfg = config(channels, batch=batch, pool=pool)
    torch.manual_seed(cfg.run.seed)
    model, cost = cfg.make_model(tuple(inputs), CLASSES)
    x, y = prepare(model, cost, *synthetic_batch(inputs, batch))
    target = Target(model, cost, x, y, 0.0)
    probe = config(channels, batch=batch, pool=pool, free_steps=1, mode="jacobi",
                   tol=0.0).make_sampler()
    out, states = {}, {}
    with torch.no_grad():
        for mode in ("blocks", "jacobi"):
            sampler = config(channels, batch=batch, pool=pool, free_steps=max_steps,
                             mode=mode, tol=tol).make_sampler()
            warm = config(channels, batch=batch, pool=pool, free_steps=2, mode=mode,
                          tol=tol).make_sampler()
            _settle(warm, target)  # warm-up: first-call allocations, not timed
            t = time.perf_counter()
            s, trace = _settle(sampler, target)
            seconds = time.perf_counter() - t
            _, jr, _ = probe.settle(model, cost, x, y, 0.0, init=s, steps=1)
            states[mode] = s
            out[mode] = {"steps": len(trace), "seconds": seconds,
                         "reached_tol": trace[-1] < tol, "residual": trace[-1],
                         "jacobi_residual": float(jr.max()),
                         "energy_mean": float(model.energy(x, list(s)).mean()),
                         "trace": trace}
    same = out["blocks"]["steps"]
    for mode in out:
        tr = out[mode]["trace"]
        out[mode]["residual_at_async_steps"] = tr[same - 1] if len(tr) >= same else None
    diff = max(float((a - b).abs().max()) for a, b in zip(states["blocks"], states["jacobi"],
                                                          strict=True))
    return {"channels": list(channels), "inputs": list(inputs), "batch": batch, "pool": pool,
            "tol": tol, "max_steps": max_steps, "step_size": SEED["step_size"],
            "modes": out, "same_steps": same,
            "steps_ratio": out["jacobi"]["steps"] / out["blocks"]["steps"],
            "seconds_ratio": out["jacobi"]["seconds"] / out["blocks"]["seconds"],
            "max_abs_state_difference": diff}


def machine() -> dict:
    return {"thermoep": __version__, "torch": torch.__version__,
            "python": platform.python_version(),
            "cpu": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
            "threads": torch.get_num_threads(),
            "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None}


def markdown(result: dict) -> str:
    m, st = result["machine"], result["settings"]
    lines = [f"# {result['name']}", "",
             f"Command: `{result['command']}` (thermoep {m['thermoep']}, "
             f"torch {m['torch']}, {m['threads']} threads, {m['cpus']} CPUs "
             f"{m['cpu']}, load average at the start {m['load_average']})", "",
             f"Centered EP, β = {st['beta']}, {st['free_steps']} free / {st['nudged_steps']} + "
             f"{st['nudged_steps']} nudged fixed-point steps (asynchronous, step "
             f"{st['step_size']}), squared error, SGD; generated inputs (timings do not depend "
             "on pixel values); one warm-up batch (1 free / 1 nudged step) not counted.", "",
             "| network | channels | input | batch | timed batches | s / batch | s / step | "
             "free residual |", "|---|---|---|---|---|---|---|---|"]
    for r in result["training"]:
        lines.append(f"| {r['label']} | {'-'.join(map(str, r['channels']))} | "
                     f"{'×'.join(map(str, r['inputs'][1:] + r['inputs'][:1]))} | {r['batch']} | "
                     f"{r['batches']} | {r['seconds_per_batch']:.2f} | "
                     f"{r['seconds_per_step']:.3f} | {r['free_residual']:.2e} |")
    for c in result["relaxation"]:
        lines += ["", f"Free-phase relaxation, {'-'.join(map(str, c['channels']))} channels, "
                  f"{c['pool']} pooling, {'×'.join(map(str, c['inputs'][1:] + c['inputs'][:1]))} "
                  f"inputs, batch {c['batch']}, step {c['step_size']}, until the largest "
                  f"residual < {c['tol']:g} (at most {c['max_steps']} steps):", "",
                  "| mode | steps to tol | seconds | residual | one-sync-step residual | "
                  f"residual after {c['same_steps']} steps | mean energy |",
                  "|---|---|---|---|---|---|---|"]
        for mode, name in (("blocks", "async (blocks)"), ("jacobi", "sync (jacobi)")):
            r = c["modes"][mode]
            at = r["residual_at_async_steps"]
            lines.append(f"| {name} | {r['steps']}{'' if r['reached_tol'] else ' (cap)'} | "
                         f"{r['seconds']:.2f} | {r['residual']:.2e} | "
                         f"{r['jacobi_residual']:.2e} | {'–' if at is None else f'{at:.2e}'} | "
                         f"{r['energy_mean']:.4f} |")
        lines += ["", f"sync / async: {c['steps_ratio']:.2f}× the steps, "
                  f"{c['seconds_ratio']:.2f}× the seconds; largest |Δs| between the two final "
                  f"states {c['max_abs_state_difference']:.2e}."]
    return "\n".join(lines) + "\n"


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed-batches", type=int, default=1,
                    help="timed batches of the seed-sized DCHN (0: skip it)")
    ap.add_argument("--small-batches", type=int, default=2,
                    help="timed batches of the CPU-sized DCHN")
    ap.add_argument("--small-inputs", nargs="+", default=["1x28x28"],
                    help="input shapes C×H×W of the CPU-sized DCHN (e.g. 1x28x28 3x32x32)")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--tol", type=float, default=1e-4)
    ap.add_argument("--max-steps", type=int, default=1000)
    ap.add_argument("--relax-batch", type=int, default=128)
    ap.add_argument("--pools", nargs="+", default=["max", "avg"], choices=["max", "avg"],
                    help="pooling of the relaxation comparison (max: the seed's; avg: control)")
    ap.add_argument("--tiny", action="store_true",
                    help="tiny sizes, a check of the code path (the test runs this)")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--name", default="dchn_speed")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    command = "python benchmarks/dchn_speed.py " + " ".join(sys.argv[1:] if argv is None
                                                            else argv)
    small = [tuple(int(v) for v in s.lower().split("x")) for s in args.small_inputs]
    if args.tiny:
        seed_ch, small_ch, batch, relax_batch = (4, 4, 6, 6), (3, 4), 4, 4
        seed_in, small = (3, 16, 16), [(1, 8, 8)]
        free, nudged = 3, 2
    else:
        seed_ch, small_ch, batch, relax_batch = SEED_CHANNELS, SMALL_CHANNELS, args.batch, \
            args.relax_batch
        seed_in, free, nudged = (3, 32, 32), SEED["free_steps"], SEED["nudged_steps"]
    result = {"name": args.name, "command": command.strip(), "machine": machine(),
              "settings": {**SEED, "free_steps": free, "nudged_steps": nudged,
                           "tiny": args.tiny}, "training": [], "relaxation": []}
    t0 = time.perf_counter()
    for inputs in small:
        row = seconds_per_batch(small_ch, inputs, batch=batch, batches=args.small_batches,
                                free_steps=free, nudged_steps=nudged)
        result["training"].append({"label": "CPU-sized", **row})
        print(f"CPU-sized {inputs}: {row['seconds_per_batch']:.2f} s/batch", flush=True)
        write(result, args.out)
    for pool in args.pools:
        cmp = relaxation_modes(small_ch, small[0], batch=relax_batch, tol=args.tol,
                               max_steps=args.max_steps, pool=pool)
        result["relaxation"].append(cmp)
        print(f"relaxation ({pool} pool): async {cmp['modes']['blocks']['steps']} steps, sync "
              f"{cmp['modes']['jacobi']['steps']} steps", flush=True)
        write(result, args.out)
    if args.seed_batches > 0:
        row = seconds_per_batch(seed_ch, seed_in, batch=batch, batches=args.seed_batches,
                                free_steps=free, nudged_steps=nudged)
        result["training"].append({"label": "seed-sized", **row})
    result["total_seconds"] = time.perf_counter() - t0
    print(write(result, args.out))
    return result


def write(result: dict, out: Path) -> str:
    """<name>.json and <name>.md (also after each part, so a stopped run keeps what it timed)."""
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{result['name']}.json").write_text(json.dumps(result, indent=1) + "\n")
    text = markdown(result)
    (out / f"{result['name']}.md").write_text(text)
    return text


if __name__ == "__main__":
    main()

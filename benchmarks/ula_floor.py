"""What the finite-nudge row's 30 coupled ULA steps cost at the least, next to the T = 0 centered
step, in one run.

``thermo_speed.py``'s ``finite-nudge`` row (784-256-10 tanh, batch 64, coupled ULA: the free and
the nudged phase as one tensor program sharing their noise, 4 chains, 30 jacobi steps at η = 0.4,
T = 0.001) is a training step: sampler, observers, parameter gradient, Adam. This times, on the
same network and batches:

- ``centered``: the T = 0 centered training step (as in ``thermo_speed.py``);
- ``finite-nudge``: the finite-nudge training step (as in ``thermo_speed.py``);
- ``langevin-steps``: the library's :class:`~thermoep.samplers.Langevin` alone on the stacked
  target, ``init`` and 30 ``step`` calls, no observer (what the row's sampling costs without
  its statistics);
- ``ula-loop``: a hand-written loop of the sampler's arithmetic alone — per step, ρ and ρ' of
  both layers, two products with W₂, the drifts, one Gaussian draw per unit — with no observer,
  no parameter gradient and no optimiser step. Written for this network only (two tensors, tanh
  through one sigmoid, in-place updates), the least eager PyTorch does for these 30 steps;
- ``ula-training-step``: the loop, the sums over its kept states that the parameter gradient
  needs (Σρ(h), Σρ(o), Σρ(h)ᵀρ(o) per phase), the gradient and an Adam step: the least a
  training step of these 30 steps does;
- ``ula-randn``: the Gaussian draws alone (30 × ``torch.randn`` of 4 × 64 × 256 and 4 × 64 × 10);
- ``ula-compiled``: the same loop with each step's non-random part compiled by ``torch.compile``
  (the noise drawn by ``torch.randn`` outside it: inductor's in-kernel draws are slower on a CPU);
  skipped with ``--no-compile`` or where compilation fails.

Before timing, the hand-written loop is checked against the library: from the same start and
generator, in float64, it must reproduce :class:`thermoep.samplers.Langevin`'s coupled chain
and the finite-nudge estimator's parameter gradient to 1e-9 (largest differences printed and
recorded; they are ~1e-14), so it does the row's arithmetic, not less. The figures answer
one question: can a training step of these 30 steps cost ≤ 2× the centered step on this
machine?

    python benchmarks/ula_floor.py [--batches 30] [--repeats 3] [--threads 1] [--trained CKPT]
                                   [--no-compile] [--name ula_floor]

Needs Fashion-MNIST (``apt-get install dataset-fashion-mnist``). Writes
benchmarks/results/<name>.{json,md} (default ``ula_floor``) and prints the table. Run it alone.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import platform
import statistics
import time
from pathlib import Path

import thermo_speed
import torch

from thermoep import __version__, checkpoints
from thermoep.config import RunConfig
from thermoep.experiment import build
from thermoep.samplers.base import Target

OUT = Path(__file__).parent / "results"
ROW = thermo_speed.CONFIGS["finite-nudge"]


def network(trained: str | None, batches: int):
    """The finite-nudge row's model, cost and ``batches + 1`` prepared batches."""
    cfg = RunConfig.of(**{**thermo_speed.BASE, **ROW},
                       limit_train=thermo_speed.BATCH * (batches + 1), limit_test=64)
    built = build(cfg)
    if trained is not None:
        built.model.load_state_dict(checkpoints.load(trained)["model"])
    b = thermo_speed.BATCH
    x, y = built.data.train_x, built.data.train_y
    batches = [Target.of(built.model, built.cost, x[i * b:(i + 1) * b], y[i * b:(i + 1) * b])
               for i in range(batches + 1)]
    return built, batches


class Loop:
    """Coupled ULA on LayeredHopfield([784, 256, 10], tanh) with ℓ = ½‖s₂ − y‖², written out:

        ∇_h U = h − ρ'(h)(x W₁ + b₁ + ρ(o) W₂ᵀ),  ∇_o U = o − ρ'(o)(ρ(h) W₂ + b₂) + b (o − y),
        s ← s − η ∇U + √(2ηT) ξ,

    phases b ∈ {0, β} stacked in front of the chains and sharing ξ (common random numbers)."""

    def __init__(self, model, beta: float, eta: float, temperature: float, steps: int):
        w1 = model.dense_x_s1.weight.detach()
        self.w2 = model.dense_s1_s2.weight.detach()          # [256, 10]
        self.w1, self.b1 = w1, model.bias_s1.bias.detach()
        self.b2 = model.bias_s2.bias.detach()
        self.nudge = torch.tensor([0.0, beta], dtype=w1.dtype).view(2, 1, 1, 1)
        self.eta, self.noise = eta, math.sqrt(2.0 * eta * temperature)
        self.steps = steps
        self.one = torch.ones((), dtype=w1.dtype)

    def tanh(self, s):
        """(ρ, ρ') with tanh(s) = 2σ(2s) − 1: one sigmoid pass, cheaper than torch.tanh on a CPU."""
        r = torch.sigmoid(s * 2.0).mul_(2.0).sub_(1.0)
        return r, torch.addcmul(self.one, r, r, value=-1.0)

    def drift(self, h, o, drive, y):
        """(s − η∇U for both layers, ρ(h), ρ(o))."""
        rh, ph = self.tanh(h)
        ro, po = self.tanh(o)
        fh = torch.matmul(ro, self.w2.T).add_(drive)
        fo = torch.matmul(rh, self.w2t.T).add_(self.b2)
        gh = torch.addcmul(h, ph, fh, value=-1.0)
        go = torch.addcmul(o, po, fo, value=-1.0).add_(self.nudge * (o - y))
        return h.add(gh, alpha=-self.eta), o.add(go, alpha=-self.eta), rh, ro

    def run(self, x, y, h, o, generator, drift=None, burn_in: int | None = None):
        """The chain from (h, o); with ``burn_in``, also the sums over the kept states (every
        state after the first ``burn_in`` steps) that the parameter gradient needs: Σρ(h) and
        Σρ(o) per phase and input, Σ ρ(o)ᵀρ(h) per phase. A kept state's ρ is the one the
        next step's drift computes."""
        drift = drift or self.drift
        drive = torch.addmm(self.b1, x, self.w1)
        # W₂ stored [10, 256] for the ρ(h)W₂ product (CPU BLAS is slow with a row-major 256 × 10
        # right factor); copied per batch, as the optimiser moves W₂
        self.w2t = self.w2.T.contiguous()
        sums = None

        def add(sums, rh, ro):
            # Σ over chains and inputs of ρ(o)ᵀρ(h): one [10, 256] product per phase (the
            # narrow factor on the left: several times faster than ρ(h)ᵀρ(o) on a CPU)
            new = (rh.sum(1), ro.sum(1), torch.bmm(ro.flatten(1, 2).transpose(1, 2),
                                                   rh.flatten(1, 2)))
            return new if sums is None else tuple(
                s.add_(n) for s, n in zip(sums, new, strict=True))

        for t in range(self.steps):
            h, o, rh, ro = drift(h, o, drive, y)
            if burn_in is not None and t > burn_in:
                sums = add(sums, rh, ro)
            h = h.add_(torch.randn(h.shape[1:], generator=generator, dtype=h.dtype),
                       alpha=self.noise)
            o = o.add_(torch.randn(o.shape[1:], generator=generator, dtype=o.dtype),
                       alpha=self.noise)
        if burn_in is not None:
            sums = add(sums, self.tanh(h)[0], self.tanh(o)[0])
        return h, o, sums

    def gradient(self, model, x, sums, kept: int, chains: int, beta: float) -> None:
        """∇J = (E_β[∂θE] − E_0[∂θE]) / β into ``model``'s ``.grad`` (mean over the batch), with
        ∂E/∂W₁ = −xᵀρ(h), ∂E/∂W₂ = −ρ(h)ᵀρ(o), ∂E/∂b = −ρ(s)."""
        rh, ro, pair = sums
        scale = -1.0 / (beta * kept * chains * x.shape[0])
        dh, do, dpair = rh[1] - rh[0], ro[1] - ro[0], pair[1] - pair[0]
        model.dense_x_s1.weight.grad = (x.T @ dh).mul_(scale)
        model.dense_s1_s2.weight.grad = dpair.T.mul(scale)
        model.bias_s1.bias.grad = dh.sum(0).mul_(scale)
        model.bias_s2.bias.grad = do.sum(0).mul_(scale)


def start(model, chains: int, batch: int):
    h0, o0 = model.init_state((chains, batch))
    return (h0.unsqueeze(0).expand(2, *h0.shape).clone(),
            o0.unsqueeze(0).expand(2, *o0.shape).clone())


def check(built, target: Target) -> tuple[float, float]:
    """From the same start and generator, in float64 (so that float32 rounding, which 30 steps
    of a trained network's chain amplify to ~1e-4, does not hide a difference): the largest
    |difference| between the loop's and the library's coupled chain after the row's steps, and
    between their parameter gradients (relative to each gradient's largest entry)."""
    sampler, est = built.estimator.sampler, built.estimator
    model = copy.deepcopy(built.model).double()
    target = Target.of(model, built.cost, target.x.double(), target.y)
    loop = Loop(model, est.beta, sampler.step_size, sampler.temperature, sampler.steps)
    stacked = target.stacked((0.0, est.beta))
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        state = sampler.init(stacked, generator=g)
        for t in range(sampler.steps):
            state, _ = sampler.step(stacked, state, t, generator=g)
        h, o, _ = loop.run(target.x, target.y, *start(model, sampler.chains, target.batch),
                           torch.Generator().manual_seed(1))
    chain = max(float((a - b).abs().max()) for a, b in zip((h, o), state.position, strict=True))
    est(model, built.cost, target.x, target.y, generator=torch.Generator().manual_seed(1)) \
        .apply_(model, built.cost)
    library = {n: p.grad.clone() for n, p in model.named_parameters()}
    with torch.no_grad():
        *_, sums = loop.run(target.x, target.y, *start(model, sampler.chains, target.batch),
                            torch.Generator().manual_seed(1), burn_in=sampler.burn_in)
        loop.gradient(model, target.x, sums, sampler.steps - sampler.burn_in,
                      sampler.chains, est.beta)
    grad = max(float((p.grad - library[n]).abs().max() / library[n].abs().max())
               for n, p in model.named_parameters())
    return chain, grad


def seconds(fn, targets) -> float:
    fn(targets[0])
    t = time.perf_counter()
    for target in targets[1:]:
        fn(target)
    return (time.perf_counter() - t) / (len(targets) - 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batches", type=int, default=30)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--trained", default=None,
                    help="checkpoint whose weights every row starts from")
    ap.add_argument("--name", default="ula_floor")
    ap.add_argument("--no-compile", action="store_true")
    ap.add_argument("--repeats", type=int, default=3, help="rounds over every row (median)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    built, targets = network(args.trained, args.batches)
    chains, batch = ROW["chains"], thermo_speed.BATCH
    loop = Loop(built.model, built.estimator.beta, ROW["step_size"], ROW["temperature"],
                ROW["steps"])
    gap, grad_gap = check(built, targets[0])
    print(f"hand-written loop against the library: chain {gap:.2e}, gradient {grad_gap:.2e} "
          "(largest differences)")
    if not (gap < 1e-9 and grad_gap < 1e-9):
        raise SystemExit("the hand-written loop does not reproduce the library's estimate")
    gen = torch.Generator().manual_seed(0)

    def ula(target, drift=None):
        with torch.no_grad():
            loop.run(target.x, target.y, *start(built.model, chains, batch), gen, drift)

    sampler, beta = built.estimator.sampler, built.estimator.beta

    def library_steps(target):
        stacked = target.stacked((0.0, beta))
        with torch.no_grad():
            state = sampler.init(stacked, generator=gen)
            for t in range(sampler.steps):
                state, _ = sampler.step(stacked, state, t, generator=gen)

    model = built.model
    adam = torch.optim.Adam(model.parameters(), lr=thermo_speed.BASE["lr"])

    def train_step(target):
        with torch.no_grad():
            *_, sums = loop.run(target.x, target.y, *start(model, chains, batch), gen,
                                burn_in=ROW["burn_in"])
            loop.gradient(model, target.x, sums, ROW["steps"] - ROW["burn_in"], chains,
                          built.estimator.beta)
        adam.step()

    def randn(target):
        for _ in range(loop.steps):
            torch.randn(chains, batch, 256, generator=gen)
            torch.randn(chains, batch, 10, generator=gen)

    rows = {name: (lambda name=name: thermo_speed.seconds_per_batch(
                name, args.batches, args.trained)["seconds_per_batch"])
            for name in ("centered", "finite-nudge")}
    rows |= {"langevin-steps": lambda: seconds(library_steps, targets),
             "ula-loop": lambda: seconds(ula, targets),
             "ula-training-step": lambda: seconds(train_step, targets),
             "ula-randn": lambda: seconds(randn, targets)}
    if not args.no_compile:
        try:
            compiled = torch.compile(loop.drift, dynamic=False)
            seconds(lambda t: ula(t, compiled), targets[:2])
            rows["ula-compiled"] = lambda: seconds(lambda t: ula(t, compiled), targets)
        except Exception as err:  # noqa: BLE001 — no compiler here: report the eager rows
            print(f"torch.compile failed ({type(err).__name__}); no compiled row")
    # every row timed in each of --repeats rounds, the median kept: the machine's speed drifts
    # between rounds, and the first row of a process is not always its slowest
    times = {name: [] for name in rows}
    for _ in range(args.repeats):
        for name, fn in rows.items():
            times[name].append(1e3 * fn())
    ms = {name: statistics.median(t) for name, t in times.items()}
    ref = ms["centered"]
    result = {"command": "python benchmarks/ula_floor.py --batches "
                         f"{args.batches} --threads {args.threads} --repeats {args.repeats}"
                         + (f" --trained {args.trained}" if args.trained else "")
                         + (" --no-compile" if args.no_compile else "")
                         + (f" --name {args.name}" if args.name != "ula_floor" else ""),
              "thermoep": __version__, "torch": torch.__version__,
              "machine": platform.processor() or platform.machine(),
              "threads": torch.get_num_threads(), "largest_difference_to_library": gap,
              "largest_relative_gradient_difference_to_library": grad_gap,
              "ms_per_batch": ms, "ms_per_round": times,
              "ratio_to_centered": {k: v / ref for k, v in ms.items()}}
    OUT.mkdir(exist_ok=True)
    (OUT / f"{args.name}.json").write_text(json.dumps(result, indent=1) + "\n")
    lines = [f"# {args.name}", "", f"Command: `{result['command']}` (thermoep {__version__}, "
             f"torch {torch.__version__}, {result['threads']} threads)", "",
             "784-256-10 tanh, Fashion-MNIST, batch 64; coupled ULA, 4 chains, 30 jacobi steps "
             "at η = 0.4, T = 0.001, β = 1. In float64 the hand-written loop reproduces the "
             f"library's chain to {gap:.1e} and its gradient to {grad_gap:.1e} (relative).", "",
             f"Median of {args.repeats} rounds over every row.", "",
             "| row | ms / batch | × centered | rounds (ms) |", "|---|---|---|---|"]
    for k, v in ms.items():
        lines.append(f"| {k} | {v:.1f} | {v / ref:.2f} | "
                     + ", ".join(f"{t:.1f}" for t in times[k]) + " |")
    text = "\n".join(lines) + "\n"
    (OUT / f"{args.name}.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()

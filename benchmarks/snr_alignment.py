"""Gradient alignment and SNR of Δs vs β on the embedded digits (seed ep-without-limits Fig. 1A-B),
plus the same curves for coupled chains (common random numbers).

Model: LayeredHopfield 64-32-10 (tanh), trained 2 epochs with centered EP at T = 0 (the default
diagnostic problem of `thermoep diagnose`), a fixed batch of 128 training digits. Sampler: ULA
Langevin at T = 0.01 (step 0.2, 300 steps, 100 burn-in, 32 chains per input). For each β on a
log grid and each chain seed, FiniteNudge (Thm 3.1) is run with independent chains (the nudged
phase warm-starts from the free phase) and with coupled chains (both phases from the same start
and random stream); from the very same phases we measure

* A: cos(ĝ(β), ∇L_sup), ∇L_sup = implicit gradient of ℓ(s*_0) (= BPTT at convergence), and
     cos(ĝ(β), ∇J_β), ∇J_β ∝ ∇L_β estimated by FiniteNudge with 8× the chains and common random
     numbers (its relative standard error is reported);
* B: SNR(β) = ‖E Δs‖² / E‖Δs − E Δs‖² of the per-chain time-averaged output shift (plug-in; its
     floor for pure noise is 1/C) and the debiased version;
* C: ‖SE(ĝ)‖ / ‖ĝ‖ from the chain replicates.

    python benchmarks/snr_alignment.py [--seeds 0 1 2] [--temperature 0.01]
Writes benchmarks/results/snr_alignment.{png,json,md}. Run it alone on the machine.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import statistics
import time
from pathlib import Path

import numpy as np
import torch

import thermoep as te
from thermoep import diagnostics as dg
from thermoep.diagnostics.references import se_norm

OUT = Path(__file__).parent / "results"
KINDS = ("independent", "coupled")


def _mean_std(values):
    vals = [v for v in values if math.isfinite(v)]
    if not vals:
        return math.nan, math.nan
    return statistics.mean(vals), (statistics.stdev(vals) if len(vals) > 1 else 0.0)


def measure(args) -> dict:
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    problem = dg.diagnostic_problem(hidden=(args.hidden,), batch=args.batch,
                                    train_epochs=args.train_epochs, seed=0)
    energy, cost, x, y = problem
    lang = te.Langevin(step_size=args.step_size, steps=args.steps, burn_in=args.burn_in,
                       temperature=args.temperature, chains=args.chains)
    samplers = {}
    for kind in KINDS:
        samplers[kind] = copy.copy(lang)
        samplers[kind].coupled = kind == "coupled"
    betas = [float(b) for b in np.logspace(math.log10(args.beta_min), 0.0, args.num_betas)]
    sup = dg.supervised_gradient(energy, cost, x, y)
    print(f"problem ready ({time.perf_counter() - t0:.1f} s); ‖∇L_sup‖ = "
          f"{float(sup.flat().norm()):.4g}", flush=True)
    rows = []
    for beta in betas:
        ref = dg.target_gradient(te.FiniteNudge(lang, beta), energy, cost, x, y,
                                 budget=args.budget,
                                 generator=torch.Generator().manual_seed(10_000))
        ref_rel_se = se_norm(ref) / float(ref.flat().norm())
        row = {"beta": beta, "reference_rel_se": ref_rel_se,
               "cos_reference_sup": ref.cosine(sup)}
        for kind in KINDS:
            per_seed = {"cos_sup": [], "cos_J": [], "snr": [], "snr_debiased": [], "rel_se": []}
            for seed in args.seeds:
                rec = dg.PhaseRecorder(samplers[kind])
                g = te.FiniteNudge(rec.sampler, beta)(energy, cost, x, y,
                                                      generator=torch.Generator().manual_seed(seed))
                s = dg.snr_from_delta(rec.delta(beta))
                per_seed["cos_sup"].append(g.cosine(sup))
                per_seed["cos_J"].append(g.cosine(ref))
                per_seed["snr"].append(s["snr"])
                per_seed["snr_debiased"].append(s["snr_debiased"])
                per_seed["rel_se"].append(se_norm(g) / float(g.flat().norm()))
            row[kind] = {k: {"mean": _mean_std(v)[0], "std": _mean_std(v)[1], "seeds": v}
                         for k, v in per_seed.items()}
        rows.append(row)
        ind, cpl = row["independent"], row["coupled"]
        print(f"β={beta:<8.3g} indep: cos_sup {ind['cos_sup']['mean']:+.3f} cos_J "
              f"{ind['cos_J']['mean']:+.3f} SNR {ind['snr']['mean']:.3g} | coupled: cos_sup "
              f"{cpl['cos_sup']['mean']:+.3f} cos_J {cpl['cos_J']['mean']:+.3f} SNR "
              f"{cpl['snr']['mean']:.3g} | ref rel SE {ref_rel_se:.3f}", flush=True)
    return {
        "benchmark": "snr_alignment",
        "figure": "ep-without-limits Fig. 1A-B (+ coupled chains)",
        "dataset": f"digits (sklearn, embedded), first {args.batch} training images",
        "model": {"sizes": list(energy.sizes), "activation": "tanh",
                  "trained": f"{args.train_epochs} epochs centered EP (T = 0)"},
        "sampler": repr(lang), "reference": f"FiniteNudge, {args.budget}x chains, coupled",
        "supervised": "implicit differentiation at the free fixed point (T = 0)",
        "seeds": args.seeds, "threads": torch.get_num_threads(),
        "seconds": time.perf_counter() - t0, "noise_floor_snr": 1.0 / args.chains,
        "rows": rows,
    }


def figure(res: dict, path: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows = res["rows"]
    b = np.array([r["beta"] for r in rows])
    fig = Figure(figsize=(15, 4.2), dpi=120, layout="constrained")
    FigureCanvasAgg(fig)
    ax_a, ax_b, ax_c = fig.subplots(1, 3)
    style = {"independent": "-", "coupled": "--"}

    def band(ax, kind, key, label, color):
        m = np.array([r[kind][key]["mean"] for r in rows])
        s = np.array([r[kind][key]["std"] for r in rows])
        ax.plot(b, m, style[kind], marker="o", ms=3, color=color, label=label)
        ax.fill_between(b, m - s, m + s, color=color, alpha=0.15)

    for kind in KINDS:
        band(ax_a, kind, "cos_sup", f"∇L_sup ({kind})", "C0" if kind == "independent" else "C2")
        band(ax_a, kind, "cos_J", f"∇J_β ({kind})", "C1" if kind == "independent" else "C3")
        band(ax_b, kind, "snr", f"SNR ({kind})", "C0" if kind == "independent" else "C2")
        band(ax_c, kind, "rel_se", kind, "C0" if kind == "independent" else "C2")
    ax_b.axhline(res["noise_floor_snr"], color="gray", lw=0.8, ls=":",
                 label="pure-noise floor 1/C")
    ax_a.set_ylabel("cosine similarity with reference")
    ax_a.set_title("A  gradient alignment of finite-nudge ĝ(β)")
    ax_b.set_ylabel("‖E Δs‖² / E‖Δs − E Δs‖²")
    ax_b.set_yscale("log")
    ax_b.set_title("B  SNR of Δs = s_β − s_0")
    ax_c.set_ylabel("‖SE(ĝ)‖ / ‖ĝ‖")
    ax_c.set_yscale("log")
    ax_c.set_title("C  relative standard error of ĝ(β)")
    for ax in (ax_a, ax_b, ax_c):
        ax.set_xscale("log")
        ax.set_xlabel("β")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"digits {res['model']['sizes']}, {res['sampler']}; mean ± std over seeds "
                 f"{res['seeds']}", fontsize=9)
    fig.savefig(path, format="png")


def markdown(res: dict) -> str:
    def f(r, kind, key, digits=3):
        return f"{r[kind][key]['mean']:.{digits}g}"

    lines = [
        "# Gradient alignment and SNR of Δs vs β (ep-without-limits Fig. 1A-B, + coupled)",
        "",
        f"Command: `python benchmarks/snr_alignment.py --seeds {' '.join(map(str, res['seeds']))}`"
        f" ({res['seconds']:.0f} s, {res['threads']} threads)",
        "",
        f"Model {res['model']['sizes']} tanh, {res['model']['trained']}; {res['dataset']}; "
        f"{res['sampler']}; reference ∇J_β: {res['reference']}; ∇L_sup: {res['supervised']}. "
        "Means over seeds; SNR floor for pure noise 1/C = "
        f"{res['noise_floor_snr']:.3g}.",
        "",
        "| β | cos ∇L_sup indep. | cos ∇J_β indep. | SNR indep. | rel. SE indep. "
        "| cos ∇L_sup coupled | cos ∇J_β coupled | SNR coupled | rel. SE coupled "
        "| ref. rel. SE |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in res["rows"]:
        lines.append(
            f"| {r['beta']:.3g} | {f(r, 'independent', 'cos_sup')} | "
            f"{f(r, 'independent', 'cos_J')} | {f(r, 'independent', 'snr')} | "
            f"{f(r, 'independent', 'rel_se')} | {f(r, 'coupled', 'cos_sup')} | "
            f"{f(r, 'coupled', 'cos_J')} | {f(r, 'coupled', 'snr')} | "
            f"{f(r, 'coupled', 'rel_se')} | {r['reference_rel_se']:.3g} |")
    ref_sup = [r["cos_reference_sup"] for r in res["rows"]]
    lines += ["", f"cos(∇J_β reference, ∇L_sup) = {min(ref_sup):.3f} … {max(ref_sup):.3f} over "
              "the grid: at T > 0 even the exact ∇L_β differs from the T = 0 supervised gradient "
              "(thermal and ULA offsets), which caps the coupled curve's ∇L_sup alignment."]
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--temperature", type=float, default=0.01)
    p.add_argument("--chains", type=int, default=32)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--burn-in", type=int, default=100)
    p.add_argument("--step-size", type=float, default=0.2)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--hidden", type=int, default=32)
    p.add_argument("--train-epochs", type=int, default=2)
    p.add_argument("--beta-min", type=float, default=1e-3)
    p.add_argument("--num-betas", type=int, default=10)
    p.add_argument("--budget", type=int, default=8)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--from-json", action="store_true",
                   help="Redraw the figure and table from the saved JSON without measuring.")
    args = p.parse_args()
    if args.from_json:
        res = json.loads((OUT / "snr_alignment.json").read_text())
        (OUT / "snr_alignment.md").write_text(markdown(res))
        figure(res, OUT / "snr_alignment.png")
        print(markdown(res))
        return
    res = measure(args)
    OUT.mkdir(exist_ok=True)
    (OUT / "snr_alignment.json").write_text(json.dumps(res, indent=2))
    (OUT / "snr_alignment.md").write_text(markdown(res))
    figure(res, OUT / "snr_alignment.png")
    print(markdown(res))


if __name__ == "__main__":
    main()

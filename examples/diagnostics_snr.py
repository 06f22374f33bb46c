"""SNR and gradient-alignment diagnostics of thermodynamic EP, with their plots.

On the diagnostics' default problem (a 64-32-10 tanh LayeredHopfield on the embedded digits,
trained for 2 epochs of centered EP, its first 64 training images as a fixed batch), over a grid
of nudges β:

* ``coupling_comparison`` — the SNR of the output's response Δs = s̄_L(β) − s̄_L(0) between
  Langevin chains at T = 0.01 (ep-without-limits Fig. 1B): with independent chains the noise of
  Δs does not shrink with β while its signal is O(β), so the SNR falls about as β²; coupled
  chains (common random numbers) cancel the noise both phases share.
* ``gradient_alignment`` — the cosine of each estimator's ĝ(β) with ∇L_sup (implicit
  differentiation at the free fixed point) and with the gradient it targets (Fig. 1A).

Both return xarray Datasets; ``dg.plot`` draws each one to a PNG.

    python examples/diagnostics_snr.py                 # PNGs in a temporary directory
    python examples/diagnostics_snr.py figs/snr.png    # and figs/snr-alignment.png beside it
    python examples/diagnostics_snr.py --quick         # fewer samples (the test suite)
"""

from __future__ import annotations

import argparse
import math
import tempfile
from pathlib import Path

import torch

import thermoep as te
from thermoep import diagnostics as dg


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("png", nargs="?", type=Path, default=None,
                        help="the SNR plot (default: a temporary directory); the alignment "
                             "plot goes beside it as <name>-alignment.png")
    parser.add_argument("--quick", action="store_true", help="fewer chains and samples")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    png = args.png or Path(tempfile.mkdtemp(prefix="thermoep-")) / "snr.png"
    png.parent.mkdir(parents=True, exist_ok=True)
    aligned_png = png.with_name(f"{png.stem}-alignment{png.suffix}")

    torch.manual_seed(args.seed)
    energy, cost, x, y = dg.diagnostic_problem(seed=args.seed)
    steps, chains = (120, 8) if args.quick else (300, 16)
    lang = dg.make_sampler(0.01, chains=chains, steps=steps, burn_in=steps // 4)
    betas = [0.01, 0.03, 0.1, 0.3, 1.0]
    gen = torch.Generator().manual_seed(args.seed)

    snr = dg.coupling_comparison(energy, cost, x, y, lang, betas, generator=gen)
    print(f"SNR of the output response, Langevin T = 0.01, {chains} chains, {steps} steps")
    table = snr["snr"].to_pandas().T                   # rows beta, columns coupling
    print(table.to_string(float_format=lambda v: f"{v:10.3g}"))
    ind, cpl = (snr["snr"].sel(coupling=c) for c in ("independent", "coupled"))
    lo, hi = betas[0], betas[-1]
    print(f"independent chains: SNR falls {float(ind.sel(beta=hi) / ind.sel(beta=lo)):.3g}x "
          f"from beta {hi} to {lo}, down to {float(ind.sel(beta=lo)):.3g} "
          f"(the floor of the plug-in SNR is 1/chains = {1 / chains:.3g})")
    print(f"coupled chains: SNR changes {float(cpl.sel(beta=hi) / cpl.sel(beta=lo)):.3g}x "
          f"over the same range; at beta {lo} it is "
          f"{float(cpl.sel(beta=lo) / ind.sel(beta=lo)):.3g}x the independent chains'")

    relax = te.Relaxation(steps=100, step_size=0.5)
    aligned = dg.gradient_alignment(energy, cost, x, y, betas,
                                    estimators=["one-sided", "centered", "finite-nudge"],
                                    sampler=lang, relaxation=relax, budget=4, generator=gen)
    print("cosine with the supervised gradient (implicit differentiation)")
    cos = aligned["cos_sup"].to_pandas().T             # rows beta, columns estimator
    print(cos.to_string(float_format=lambda v: "       nan" if math.isnan(v) else f"{v:10.4f}"))
    if aligned.attrs["skipped"]:
        print("skipped:", aligned.attrs["skipped"])

    # one quantity per figure: attrs["plot"] names the variables dg.plot draws
    dg.plot(snr.assign_attrs(plot="snr"), png)
    dg.plot(aligned.assign_attrs(plot="cos_sup"), aligned_png)
    for path in (png, aligned_png):
        print(f"wrote {path} ({path.stat().st_size} bytes)")


if __name__ == "__main__":
    main()

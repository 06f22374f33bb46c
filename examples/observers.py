"""Observers: statistics of your own from the states a sampler keeps, with no sampler edited.

The shared sampler loop (``te.sample``) calls, for every phase, ``observer.start(target, state,
chains)`` once, ``observer.update(target, state)`` for every kept state (after burn-in and
thinning; ``state.position`` holds one tensor per free layer, chains leading) and
``observer.finish(target)``, whose value lands in ``phase.observed[observer.name]``.

Two examples on the 2-D Ising model, H = −J Σ_<ij> s_i s_j − h Σ_i s_i on an 8 × 8 periodic
lattice (J = 1, h = 0), built from the energy model — one layer of spins, a
``NearestNeighbour`` coupling (the lattice as a stencil: one shared J, four shifts per field), a
``Bias`` (the field), no input — and sampled by block Gibbs over the blocks the energy computes
(the checkerboard):

* an energy trace, the built-in ``te.observers.EnergyTrace`` (``[chains, samples]``), whose
  effective sample size ``pyro.ops.stats`` gives;
* a magnetisation m = (1/N) Σ_i s_i per chain, a small ``Observer`` subclass, and its trace,
  the built-in ``te.observers.LayerMeanTrace`` (the mean of a layer's units per chain and kept
  state; ``te.observers.Trace(lambda t, s: s.position[0].mean(-1))`` is the same).

Below the critical temperature T_c = 2/ln(1 + √2) ≈ 2.269 J the chains order (|m| near
Onsager's spontaneous magnetisation); above it |m| falls towards the finite-size value of a
disordered lattice (0 for an infinite one). The observer is first checked against enumeration
on a 4 × 4 lattice. At low T the effective sample size of the m trace is tiny although that of
the energy is large: each chain stays in the ordered state it fell into, +m or −m (the chains
disagree, which ESS and split R-hat see), which is why |m| is the observable to average.

    python examples/observers.py            # about 10 s on one core
    python examples/observers.py --quick    # fewer sweeps (the test suite)

Importing this file runs nothing, so the command line can use its observer in every phase of a
diagnostic (there, of the output layer: the network has no layer named "s"):

    thermoep diagnose chains --observer examples/observers.py:Magnetisation
"""

from __future__ import annotations

import argparse
import math

import torch
from pyro.ops.stats import effective_sample_size

import thermoep as te

T_C = 2.0 / math.log(1.0 + math.sqrt(2.0))


class Magnetisation(te.observers.Observer):
    """Per chain, the mean over kept states of m = (1/N) Σ_i s_i and of |m| (``[C]`` each), for
    the free layer ``layer`` (None: the output layer, the Ising model's only one)."""

    name = "magnetisation"

    def __init__(self, layer: str | None = None) -> None:
        self.layer = layer

    def start(self, target, state, chains):
        super().start(target, state, chains)       # keeps self.chains
        energy = target.energy
        self.k = energy.output if self.layer is None else energy.free_index(self.layer)
        self.m, self.abs_m, self.n = 0.0, 0.0, 0

    def update(self, target, state):
        m = state.position[self.k].mean(-1)        # [C, B]: one value per chain and system
        self.m, self.abs_m, self.n = self.m + m, self.abs_m + m.abs(), self.n + 1

    def finish(self, target):
        return {"m": (self.m / self.n).mean(-1), "abs_m": (self.abs_m / self.n).mean(-1)}


def ising(side: int, coupling: float = 1.0, field: float = 0.0) -> te.Energy:
    spins = te.Layer("s", side * side, "spin")
    lattice = te.NearestNeighbour(spins, (side, side), periodic=True, coupling=coupling)
    bias = te.Bias(spins)
    with torch.no_grad():
        bias.bias.fill_(field)
    return te.Energy([spins], [lattice, bias])


def onsager(T: float) -> float:
    """Spontaneous magnetisation of the infinite 2-D Ising model (J = 1), 0 above T_c."""
    return (1.0 - math.sinh(2.0 / T) ** -4) ** 0.125 if T < T_C else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer sweeps")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    sweeps, chains = (300, 8) if args.quick else (1000, 16)

    gen = torch.Generator().manual_seed(args.seed)
    cost = te.SquaredError()             # the cost's target y is unused at nudge b = 0

    # first, the observer against enumeration on a 4 x 4 lattice (2^16 states) at T = T_c
    small = ising(4)
    x, y = torch.zeros(1, 0), torch.zeros(1, 16)
    gibbs = te.Gibbs(sweeps=sweeps, burn_in=sweeps // 4, temperature=T_C, chains=chains)
    phase = gibbs.run(small, cost, x, y, observers=[Magnetisation()], generator=gen)
    sampled = phase["magnetisation"]["abs_m"]                    # [C]
    p = te.exact.probabilities(small, cost, x, y, 0.0, T_C)[:, 0]  # [K]
    (states,) = te.exact.configurations(small)                   # [K, 16]
    exact = float((p * states.mean(-1).abs()).sum())
    se = float(sampled.std() / math.sqrt(chains))
    print(f"4x4 lattice at T_c: <|m|> by Gibbs {float(sampled.mean()):.4f} +- {se:.4f}, "
          f"by enumeration {exact:.4f}: {abs(float(sampled.mean()) - exact) / se:.1f} SE apart")

    energy = ising(8)
    sizes = [int(part.mask.sum()) for block in energy.blocks for part in block]
    print(f"Ising 8x8, periodic: {len(energy.blocks)} Gibbs blocks of {sizes} spins")
    x = torch.zeros(1, 0)                # no input layer: x only carries the batch (1 system)
    y = torch.zeros(1, 64)
    target = te.Target.of(energy, cost, x, y)   # nudge b = 0: p(s) ∝ exp(−E(s)/T)

    print(f"T_c = {T_C:.3f}; {chains} chains, {sweeps} sweeps ({sweeps // 4} burn-in) per T")
    results = {}
    for T in (1.5, 2.0, 2.27, 2.6, 3.5):
        gibbs = te.Gibbs(sweeps=sweeps, burn_in=sweeps // 4, temperature=T, chains=chains)
        phase = te.sample(gibbs, target, generator=gen, observers=[
            te.observers.EnergyTrace(),
            Magnetisation(),
            te.observers.LayerMeanTrace("s", name="m_trace"),
        ])
        mag, e_trace, m_trace = (phase[k] for k in ("magnetisation", "energy_trace",
                                                   "m_trace"))  # [C] each, [C, S], [C, S]
        ess = [float(effective_sample_size(tr.double(), chain_dim=0, sample_dim=1))
               for tr in (e_trace, m_trace)]
        abs_m = float(mag["abs_m"].mean())
        se = float(mag["abs_m"].std() / math.sqrt(chains))
        results[T] = abs_m
        print(f"T = {T:.2f}: <|m|> = {abs_m:.3f} +- {se:.3f} (Onsager, infinite lattice: "
              f"{onsager(T):.3f}); E per spin {float(e_trace.mean()) / 64:+.3f}; ESS of the "
              f"traces of E {ess[0]:.0f} and of m {ess[1]:.0f}, of {e_trace.numel()} samples")
        print("  m per chain:", " ".join(f"{v:+.2f}" for v in mag["m"].tolist()))
    ordered = results[1.5] > results[2.27] > results[3.5]
    print(f"|m| falls as T rises through T_c: {ordered} "
          f"(|m| at T = 1.5: {results[1.5]:.3f}, at T = 3.5: {results[3.5]:.3f})")


if __name__ == "__main__":
    main()

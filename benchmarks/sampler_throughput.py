"""Block-Gibbs throughput of thermoep against thrml (JAX, CPU): spin updates per second and
effective samples per second of the energy trace, on the same models at the same temperature.

Models (one fixed input, chains C ∈ {1, 64, 1024} for it):

* ``boltzmann``: ``LayeredBoltzmann([784, 500, 10])``, binary units s ∈ {0, 1}, T = 1, the
  builder's seeded initial weights and biases U(−1/√n_in, 1/√n_in) (hidden fields of order 0.4),
  the input clamped to one fixed random binary image (each pixel on with probability ½). Blocks:
  the hidden layer, then the output layer (thermoep's computed blocks; the same two in thrml).
* ``lattice``: the 2-D Ising model on a 64 × 64 periodic lattice, spins σ ∈ {−1, +1},
  E = −J Σ_⟨ij⟩ σ_i σ_j, J = 1, no field, T = 2.5 (≈ 1.10 T_c, T_c = 2/ln(1 + √2) ≈ 2.269).
  thermoep: one ``spin`` layer shaped (64, 64), ``te.NearestNeighbour(spins, periodic=True,
  coupling=1.0, learnable=False)`` (the stencil coupling: four shifts per field,
  O(N); the results' "before" table had the dense ``te.Lateral`` under ``te.lattice(64, 64,
  periodic=True)``, a 4096 × 4096 matmul, which ``--dense-lattice`` still runs), blocks the
  computed checkerboard; thrml: 4096 ``SpinNode``s, 8192 edges, the two checkerboard
  ``Block``s in the same order.

The change of variables (thermoep's binary units → thrml's spins). thrml's ``IsingEBM`` samples
p(σ) ∝ exp(−𝓔(σ)), 𝓔(σ) = −β(Σ_i h_i σ_i + Σ_(ij) w_ij σ_i σ_j), σ ∈ {−1, +1} (stored as bools,
True = +1). thermoep's LayeredBoltzmann has E(s; x) = −Σ_l s_{l−1}ᵀ W_l s_l − Σ_l b_lᵀ s_l,
s_0 := x clamped, p(s) ∝ exp(−E/T). With s = (σ + 1)/2 (so s ∈ {0, 1} ⇔ σ ∈ {−1, +1}):

    s_aᵀ W s_b = ¼ σ_aᵀ W σ_b + ¼ (W 1)ᵀ σ_a + ¼ (1ᵀ W) σ_b + ¼ 1ᵀ W 1,
    bᵀ s = ½ bᵀ σ + ½ 1ᵀ b,     xᵀ W_1 s_1 = ½ (x W_1)ᵀ σ_1 + ½ 1ᵀ (x W_1)   (x fixed),

so E(s(σ); x) = −Σ_i h_i σ_i − Σ_(ij) w_ij σ_i σ_j + c with

    w = W_l / 4  on the edges between free layers l − 1 and l (l ≥ 2),
    h_l = ½ b_l + ½ [l = 1] x W_1 + ¼ [l ≥ 2] (1ᵀ W_l) + ¼ [l < L] (W_{l+1} 1),
    c = −½ Σ_l 1ᵀ b_l − ½ 1ᵀ (x W_1) − ¼ Σ_{l ≥ 2} 1ᵀ W_l 1,

and thrml's IsingEBM(h, w, β = 1/T) is thermoep's p at temperature T (the constant c cancels).
The input enters only through the biases h_1, as thermoep's cached input drive
(``Energy.constant_fields``) does. The Ising lattice is already in spins (h = 0, w = J, c = 0).
:func:`spin_form` builds (h, edges, w, c) and the benchmark checks the mapping twice: E(s(σ)) is
compared with the spin form on every configuration of a 3-4-2 network, and both libraries'
sampled marginals of that network are compared with ``thermoep.samplers.exact.marginals`` (each
within 5 standard errors, the per-chain means being independent replicates); the numbers are
printed and written to the results (tests/test_sampler_throughput.py does the same at test size).

Protocol per (library, model, chains), one thread each (torch.set_num_threads(1); XLA's CPU
client with intra-op parallelism off): build (``setup s``: the energy's blocks / thrml's program),
warm-up (``warm-up s``: thermoep's first one-sweep phase; thrml's ahead-of-time compilation of the
burn-in and of every measured program, ``jax.jit(...).lower(...).compile()``: the sweep count is
static in the compiled scan), a burn-in from the libraries' own random initial states
(``--burn-in`` sweeps, timed as the pilot that sizes the measurement), then the measured run of
``sweeps`` sweeps chosen so it takes about ``--target-seconds`` (at least ``--min-sweeps``;
rerun with a rescaled count when it took under 40 % of the target, the pilot having been
dominated by fixed costs), measured ``--repeats`` times (default 3): the row is the run with the
median wall, and the table gives the range of all runs (one-chain cells vary by ±15 % from run
to run on this machine). None of setup, warm-up and burn-in is in the timed wall. The measured
run records the energy trace at
every sweep, in each library inside its own loop and by the same formula, −hᵀσ − Σ w σ_i σ_j over
the arrays of :func:`spin_form` (a matmul per dense layer pair; two shifts for the stencil
lattice, gathers for the edges of a dense ``Lateral``: part of the timed wall for both
libraries). thrml evaluates it inside its compiled scan; thermoep's ``Trace(batch=K)`` keeps K
sweeps' states and evaluates the formula once on all of them (``batch="auto"``: K ≤ 256 and at
most 2¹⁸ stored numbers), which at one chain costs less than the ten small kernels of one
evaluation per sweep (evaluated every sweep, the trace costs more than the sweep). ESS of the
``[C, S]`` trace by ``pyro.ops.stats.effective_sample_size(chain_dim=0, sample_dim=1)`` for both.
spin updates/s = C · (free units) · sweeps / wall; ESS/s = ESS / wall. Both libraries run the
same exact block Gibbs kernel on the same blocks, so ESS per sweep should agree within its noise;
ESS/s then differs by throughput alone.

MALA/ULA against Pyro's NUTS on a LayeredHopfield (the continuous-unit side of the same question)
is ``benchmarks/nuts_vs_langevin.py``; ``--with-nuts`` runs it after this one.

    python benchmarks/sampler_throughput.py                     # both libraries (~5-10 min)
    python benchmarks/sampler_throughput.py --quick             # small sizes, a few seconds
    python benchmarks/sampler_throughput.py --profile           # adds torch.profiler tables
    python benchmarks/sampler_throughput.py --models lattice --merge   # only the lattice rows

thrml is an optional benchmark dependency (``pip install -e ".[bench]"``, best in a separate
virtual environment: it brings JAX); without it the thrml rows are skipped with a message.
Writes benchmarks/results/sampler_throughput.{json,md} (``--quick``: to ``--out``, default /tmp)
and prints the table.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import math
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

# one thread for XLA too, set before JAX is imported (thrml imports it)
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false "
                      "intra_op_parallelism_threads=1")

import numpy as np  # noqa: E402
import pyro  # noqa: E402
import torch  # noqa: E402
from pyro.ops.stats import effective_sample_size  # noqa: E402

import thermoep as te  # noqa: E402

RESULTS = Path(__file__).parent / "results"
T_C = 2.0 / math.log(1.0 + math.sqrt(2.0))
Z_LIMIT = 5.0
DENSE = " (dense Lateral)"


# -- the models ------------------------------------------------------------------------------------
def boltzmann(sizes, seed: int = 0, init_scale: float | None = None):
    """(LayeredBoltzmann(sizes) with seeded weights, one fixed binary input ``[1, n_0]``)."""
    torch.manual_seed(seed)
    bm = te.LayeredBoltzmann(list(sizes), init_scale=init_scale)
    g = torch.Generator().manual_seed(seed + 1)
    x = (torch.rand(1, sizes[0], generator=g) < 0.5).to(bm.dtype)
    return bm, x


def ising(side: int, coupling: float = 1.0, dense: bool = False) -> te.Energy:
    """Periodic ``side × side`` Ising lattice, E = −J Σ_⟨ij⟩ σ_i σ_j (no field): the stencil
    ``NearestNeighbour`` (fixed J) on a layer shaped ``(side, side)``, or with ``dense`` the
    same lattice as a ``Lateral`` on a flat layer."""
    if not dense:
        spins = te.Layer("s", (side, side), "spin")
        return te.Energy([spins], [te.NearestNeighbour(spins, periodic=True, coupling=coupling,
                                                       learnable=False)])
    spins = te.Layer("s", side * side, "spin")
    lateral = te.Lateral(spins, te.lattice(side, side, periodic=True))
    with torch.no_grad():
        # J = ½(W + Wᵀ) ⊙ mask is a parametrisation of the stored W: W = J on the mask
        lateral.parametrizations.weight.original.fill_(coupling)
    return te.Energy([spins], [lateral])


@dataclass
class SpinForm:
    """E(s(σ)) = −hᵀσ − Σ_e w_e σ_{i_e} σ_{j_e} + c over all free units in layer order
    (module docstring); ``blocks``: the free units of each Gibbs block, in sampling order;
    ``binary``: s = (σ + 1)/2 (else s = σ). ``dense``: the edges between two layers as
    (a0, a1, b0, b1, M): units a0..a1 coupled to b0..b1 by the matrix M (= w on those edges),
    which the energy trace contracts in one matmul; ``sparse``: the indices of the other edges,
    which it gathers."""

    h: np.ndarray
    i: np.ndarray
    j: np.ndarray
    w: np.ndarray
    c: float
    blocks: list[np.ndarray]
    binary: bool
    dense: list = field(default_factory=list)
    sparse: np.ndarray | None = None
    stencil: list = field(default_factory=list)
    ndims: list = field(default_factory=list)  # each free layer's state dims (default: 1)

    @property
    def n(self) -> int:
        return len(self.h)

    def arrays(self, xp, dtype):
        """(h, [(a0, a1, b0, b1, M)], i_s, j_s, w_s) as arrays of the module ``xp``."""
        sp = np.arange(len(self.w)) if self.sparse is None else self.sparse
        return (xp.asarray(self.h, dtype=dtype),
                [(a0, a1, b0, b1, xp.asarray(m, dtype=dtype)) for a0, a1, b0, b1, m in
                 self.dense],
                xp.asarray(self.i[sp]), xp.asarray(self.j[sp]),
                xp.asarray(self.w[sp], dtype=dtype), self.stencil)

    def energy_torch(self, sigma: torch.Tensor) -> torch.Tensor:
        """The spin-form energy (without c) of σ ``[..., n]``."""
        cache = self.__dict__.setdefault("_torch", {})
        if sigma.dtype not in cache:
            cache[sigma.dtype] = self.arrays(torch, sigma.dtype)
        return spin_energy(sigma, *cache[sigma.dtype])


def spin_energy(sigma, h, dense, i, j, w, stencil=()):
    """−hᵀσ − Σ_(ij) w_ij σ_i σ_j over the last axis (torch or JAX arrays alike); the bonds of
    a periodic lattice with one coupling (``stencil``: (a0, H, W, J), units a0..a0 + HW in
    row-major order) by two shifts, as thermoep's field does, instead of gathers."""
    e = -(sigma @ h)
    for a0, a1, b0, b1, m in dense:
        e = e - ((sigma[..., a0:a1] @ m) * sigma[..., b0:b1]).sum(-1)
    for a0, H, W, J in stencil:
        g = sigma[..., a0:a0 + H * W].reshape(*sigma.shape[:-1], H, W)
        # roll(x, shift, axis) reads the same in torch and JAX
        e = e - J * (g * (_roll(g, -1, -1) + _roll(g, -1, -2))).sum((-2, -1))
    if len(w):
        e = e - (sigma[..., i] * sigma[..., j]) @ w
    return e


def _roll(a, shift, axis):
    if isinstance(a, torch.Tensor):
        return torch.roll(a, shift, axis)
    import jax.numpy as jnp

    return jnp.roll(a, shift, axis)


def spin_form(energy: te.Energy, x: torch.Tensor) -> SpinForm:
    """The spin form of a LayeredBoltzmann at the one input ``x`` ``[1, n_0]``, or of a spin
    energy whose terms are ``NearestNeighbour`` or ``Lateral`` couplings (and ``Bias``), as
    :class:`SpinForm`."""
    offsets = np.cumsum([0, *energy.layer_sizes])
    blocks = [np.concatenate([offsets[p.layer] + (np.arange(energy.layer_sizes[p.layer])
                                                  if p.mask is None else
                                                  np.flatnonzero(p.mask.cpu().numpy()))
                              for p in block]) for block in energy.blocks]
    with torch.no_grad():
        if isinstance(energy, te.LayeredBoltzmann):
            W = [w.detach().double() for w in energy.weights]
            b = [v.detach().double() for v in energy.biases]
            xd = x.double().reshape(-1)
            L = len(W)
            hs, I, J, ws, dense = [], [], [], [], []
            c = -0.5 * float(xd @ W[0] @ torch.ones(W[0].shape[1], dtype=torch.float64))
            for l in range(L):                      # free layer l + 1 of the docstring
                h = 0.5 * b[l]
                c -= 0.5 * float(b[l].sum())
                if l == 0:
                    h = h + 0.5 * (xd @ W[0])
                else:
                    h = h + 0.25 * W[l].sum(0)
                    c -= 0.25 * float(W[l].sum())
                    ii, jj = np.meshgrid(np.arange(W[l].shape[0]), np.arange(W[l].shape[1]),
                                         indexing="ij")
                    I.append(offsets[l - 1] + ii.reshape(-1))
                    J.append(offsets[l] + jj.reshape(-1))
                    ws.append((0.25 * W[l]).reshape(-1).numpy())
                    dense.append((offsets[l - 1], offsets[l], offsets[l], offsets[l + 1],
                                  (0.25 * W[l]).numpy()))
                if l < L - 1:
                    h = h + 0.25 * W[l + 1].sum(1)
                hs.append(h.numpy())
            if not ws:                              # one free layer: no edges
                I, J, ws = [np.zeros(0, dtype=int)], [np.zeros(0, dtype=int)], [np.zeros(0)]
            return SpinForm(np.concatenate(hs), np.concatenate(I), np.concatenate(J),
                            np.concatenate(ws), c, blocks, True, dense,
                            np.zeros(0, dtype=int))
        if energy.num_layers != 1 or energy.free_layers[0].unit.name != "spin":
            raise TypeError("spin_form takes a LayeredBoltzmann or one layer of spins")
        n = energy.layer_sizes[0]
        h = np.zeros(n)
        I, J, ws, stencil, gathered = [], [], [], [], []
        for key, term, _, _ in energy._terms:
            if isinstance(term, te.NearestNeighbour):
                ii, jj, w = term.bonds()
                I.append(ii.numpy())
                J.append(jj.numpy())
                ws.append(w.double().numpy())
                uniform = term.periodic and not term.per_bond and len(term.grid) == 2
                gathered.append(np.zeros(len(ii), dtype=bool) if uniform else
                                np.ones(len(ii), dtype=bool))
                if uniform:
                    stencil.append((0, *term.grid, float(term.weight)))
            elif isinstance(term, te.Lateral):
                Jm = term.weight.detach().double()
                ii, jj = np.nonzero(np.triu(term.couplings(0).numpy(), 1))
                I.append(ii)
                J.append(jj)
                ws.append(Jm.numpy()[ii, jj])
                gathered.append(np.ones(len(ii), dtype=bool))
            elif isinstance(term, te.Bias):
                h = h + term.bias.detach().double().numpy()
            else:
                raise TypeError(f"spin_form: unsupported term {key!r}")
        return SpinForm(h, np.concatenate(I), np.concatenate(J), np.concatenate(ws), 0.0,
                        blocks, False, sparse=np.flatnonzero(np.concatenate(gathered)),
                        stencil=stencil, ndims=[energy.free_layers[0].ndim])


def to_sigma(form: SpinForm, position) -> torch.Tensor:
    """thermoep's state (tuple of layers ``[C, B, n_l]``) as σ ``[C, B, n]``."""
    ndims = form.ndims or [1] * len(position)
    s = torch.cat([p.flatten(p.dim() - nd) for p, nd in zip(position, ndims, strict=True)], -1)
    return 2.0 * s - 1.0 if form.binary else s


def mapping_error(energy: te.Energy, x: torch.Tensor, form: SpinForm | None = None) -> float:
    """Largest |E(s; x) − (spin form of σ(s) + c)| over every configuration (≤ 20 units)."""
    form = spin_form(energy, x) if form is None else form
    conf = te.exact.configurations(energy)
    with torch.no_grad():
        e = energy.energy(x, tuple(c.unsqueeze(1) for c in conf))[:, 0].double()
        sigma = to_sigma(form, tuple(c.double() for c in conf))
        e_spin = form.energy_torch(sigma) + form.c
    return float((e - e_spin).abs().max())


# -- thermoep --------------------------------------------------------------------------------------
class LayerMeans(te.observers.Observer):
    """Per chain, the mean of every free unit over the kept states, ``[C, n]`` (batch 1)."""

    name = "layer_means"

    def start(self, target, state, chains):
        super().start(target, state, chains)
        self.total, self.count = 0.0, 0

    def update(self, target, state):
        self.total = self.total + torch.cat(list(state.position), -1)[:, 0].double()
        self.count += 1

    def finish(self, target):
        return self.total / self.count


def _target(energy, x):
    cost = te.SquaredError()
    y = torch.zeros(x.shape[0], energy.layer_sizes[energy.output])
    return te.Target.of(energy, cost, x, y)


def thermoep_marginals(energy, x, T, chains, sweeps, burn_in, seed):
    """Per-chain means of every free unit ``[C, n]`` by thermoep's block Gibbs."""
    gibbs = te.Gibbs(sweeps=sweeps, burn_in=burn_in, temperature=T, chains=chains)
    phase = te.sample(gibbs, _target(energy, x), observers=[LayerMeans()],
                      generator=torch.Generator().manual_seed(seed))
    return phase["layer_means"]


def thermoep_run(energy, x, form, T, chains, *, burn_in, target_s, min_sweeps, seed,
                 repeats=1, profile=False):
    gen = torch.Generator().manual_seed(seed)
    target = _target(energy, x)
    t = time.perf_counter()
    phase = te.sample(te.Gibbs(sweeps=1, burn_in=0, temperature=T, chains=chains), target,
                      generator=gen)
    warmup = time.perf_counter() - t
    t = time.perf_counter()
    phase = te.sample(te.Gibbs(sweeps=burn_in, burn_in=burn_in - 1, temperature=T,
                               chains=chains), target, init=phase.state, generator=gen)
    burn_s = time.perf_counter() - t
    trace = te.observers.Trace(lambda tg, st: form.energy_torch(to_sigma(form, st.position)),
                               name="energy_trace", batch="auto")

    def run(sweeps):
        gibbs = te.Gibbs(sweeps=sweeps, burn_in=0, temperature=T, chains=chains)
        t = time.perf_counter()
        measured = te.sample(gibbs, target, init=phase.state, observers=[trace], generator=gen)
        return time.perf_counter() - t, measured

    sweeps, wall, measured, walls = _calibrated(run, target_s * burn_in / burn_s, min_sweeps,
                                                target_s, repeats=repeats)
    out = {"warmup_s": warmup, "burn_in_s": burn_s, "sweeps": sweeps, "wall_s": wall,
           "walls_s": walls, "trace": measured["energy_trace"].double()}
    if profile:
        out["profile"] = thermoep_profile(target, measured.state, T, chains, max(3, sweeps // 10))
    return out


def _calibrated(run, estimate: float, min_sweeps: int, target_s: float, tries: int = 3,
                repeats: int = 1):
    """``run(sweeps) -> (wall, result)`` from the pilot's estimate of the sweeps that take
    ``target_s``, rerun (at most ``tries`` times) with a rescaled count while it took under 40 %
    of the target (a pilot dominated by fixed costs); then ``repeats − 1`` more runs of that
    count. Returns (sweeps, wall, result) of the run with the median wall, and every wall."""
    sweeps = max(min_sweeps, int(estimate))
    for _ in range(tries):
        wall, result = run(sweeps)
        if wall >= 0.4 * target_s:
            break
        sweeps = max(min_sweeps, int(sweeps * target_s / max(wall, 1e-6)))
    runs = [(wall, result)] + [run(sweeps) for _ in range(repeats - 1)]
    walls = [w for w, _ in runs]
    wall, result = sorted(runs, key=lambda r: r[0])[len(runs) // 2]
    return sweeps, wall, result, walls


def thermoep_profile(target, init, T, chains, sweeps) -> dict:
    """torch.profiler's operator table (CPU self time) for ``sweeps`` sweeps, and the share of
    the wall time spent outside operators (Python)."""
    from torch.profiler import ProfilerActivity, profile

    gibbs = te.Gibbs(sweeps=sweeps, burn_in=sweeps - 1, temperature=T, chains=chains)
    gen = torch.Generator().manual_seed(0)
    t = time.perf_counter()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        te.sample(gibbs, target, init=init, generator=gen)
    wall = time.perf_counter() - t
    events = sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)
    total_self = sum(e.self_cpu_time_total for e in events) / 1e6
    rows = [{"op": e.key, "calls_per_sweep": e.count / sweeps,
             "self_ms_per_sweep": e.self_cpu_time_total / 1e3 / sweeps,
             "share_of_op_time": e.self_cpu_time_total / 1e6 / max(total_self, 1e-12)}
            for e in events[:8]]
    return {"sweeps": sweeps, "wall_ms_per_sweep_profiled": 1e3 * wall / sweeps,
            "op_self_ms_per_sweep": 1e3 * total_self / sweeps, "top_ops": rows}


# -- thrml -----------------------------------------------------------------------------------------
def thrml_available() -> str | None:
    """None if thrml imports, else why not."""
    try:
        import thrml  # noqa: F401
    except Exception as exc:  # ImportError, or JAX failing to load
        return f"{type(exc).__name__}: {exc}"
    return None


class ThrmlModel:
    """thrml's IsingEBM and IsingSamplingProgram for a :class:`SpinForm` at temperature T."""

    def __init__(self, form: SpinForm, T: float) -> None:
        import jax.numpy as jnp
        from thrml import Block, SpinNode
        from thrml.models import IsingEBM, IsingSamplingProgram

        self.form = form
        self.nodes = [SpinNode() for _ in range(form.n)]
        edges = [(self.nodes[a], self.nodes[b]) for a, b in zip(form.i.tolist(), form.j.tolist(),
                                                                  strict=True)]
        self.ebm = IsingEBM(self.nodes, edges, jnp.asarray(form.h, dtype=jnp.float32),
                            jnp.asarray(form.w, dtype=jnp.float32), jnp.asarray(1.0 / T))
        self.blocks = [Block([self.nodes[k] for k in idx.tolist()]) for idx in form.blocks]
        self.program = IsingSamplingProgram(self.ebm, self.blocks, [])
        order = np.concatenate(form.blocks)             # block-concatenated → node order
        self.inverse = jnp.asarray(np.argsort(order))
        self.arrays = form.arrays(jnp, jnp.float32)

    def sigma(self, block_states):
        """Free-block bool states → σ ∈ {−1, +1} in node order, ``[..., n]``."""
        import jax.numpy as jnp

        flat = jnp.concatenate(list(block_states), -1)
        return (2.0 * flat.astype(jnp.float32) - 1.0)[..., self.inverse]

    def energy(self, block_states):
        return spin_energy(self.sigma(block_states), *self.arrays)

    def observer(self, kind: str):
        from thrml.observers import AbstractObserver

        model = self

        class _Observe(AbstractObserver):
            """Records the energy (``energy``), σ (``sigma``) or the final free state."""

            def __call__(self, program, state_free, state_clamped, carry, iteration):
                if kind == "energy":
                    return carry, model.energy(state_free)
                if kind == "sigma":
                    return carry, model.sigma(state_free)
                return carry, state_free

        return _Observe()

    def compiled(self, chains: int, warmup: int, samples: int, kind: str):
        """An ahead-of-time compiled ``f(keys [C], init) -> observations`` (vmapped over chains)
        and its compile seconds."""
        import jax
        from thrml import SamplingSchedule, sample_with_observation
        from thrml.models import hinton_init

        schedule = SamplingSchedule(n_warmup=warmup, n_samples=samples, steps_per_sample=1)
        observe = self.observer(kind)

        def one(key, init):
            return sample_with_observation(key, self.program, schedule, init, [], None,
                                           observe)[1]

        fn = jax.jit(jax.vmap(one))
        key = jax.random.key(0)
        init = hinton_init(key, self.ebm, self.blocks, (chains,))
        t = time.perf_counter()
        out = fn.lower(jax.random.split(key, chains), init).compile()
        return out, time.perf_counter() - t

    def init(self, seed: int, chains: int):
        import jax
        from thrml.models import hinton_init

        return hinton_init(jax.random.key(seed), self.ebm, self.blocks, (chains,))


def thrml_marginals(model: ThrmlModel, chains, sweeps, burn_in, seed) -> torch.Tensor:
    """Per-chain means of every unit (in thermoep's values) ``[C, n]``."""
    import jax

    fn, _ = model.compiled(chains, burn_in, sweeps - burn_in, "sigma")
    keys = jax.random.split(jax.random.key(seed + 1), chains)
    sigma = np.asarray(fn(keys, model.init(seed, chains)))          # [C, S, n]
    m = torch.tensor(np.array(sigma), dtype=torch.float64).mean(1)
    return (m + 1.0) / 2.0 if model.form.binary else m


def thrml_run(model: ThrmlModel, chains, *, burn_in, target_s, min_sweeps, seed, repeats=1):
    import jax

    burn_fn, c1 = model.compiled(chains, burn_in, 1, "state")
    keys = jax.random.split(jax.random.key(seed + 1), chains)
    init = model.init(seed, chains)
    t = time.perf_counter()
    state = jax.block_until_ready(burn_fn(keys, init))
    burn_s = time.perf_counter() - t
    state = [s[:, 0] for s in state]                    # drop the samples axis
    keys = jax.random.split(jax.random.key(seed + 2), chains)
    compile_s = [c1]

    def run(sweeps):
        # n_warmup = 0: the first observation is of the burnt-in state after 0 sweeps, so
        # sweeps + 1 samples record the states after sweeps 0..sweeps; keep the last `sweeps`
        fn, c = model.compiled(chains, 0, sweeps + 1, "energy")
        compile_s.append(c)
        t = time.perf_counter()
        trace = jax.block_until_ready(fn(keys, state))
        return time.perf_counter() - t, trace

    sweeps, wall, trace, walls = _calibrated(run, target_s * burn_in / burn_s, min_sweeps,
                                             target_s, repeats=repeats)
    return {"warmup_s": sum(compile_s), "burn_in_s": burn_s, "sweeps": sweeps, "wall_s": wall,
            "walls_s": walls, "trace": torch.tensor(np.array(trace)[:, 1:], dtype=torch.float64)}


# -- the checks and the table ----------------------------------------------------------------------
def z_scores(per_chain: torch.Tensor, exact: torch.Tensor) -> torch.Tensor:
    """|mean − exact| / SE per unit, SE = std over chains / √C."""
    mean = per_chain.mean(0)
    se = per_chain.std(0) / math.sqrt(per_chain.shape[0])
    return (mean - exact).abs() / se.clamp_min(1e-12)


def enumeration_check(with_thrml: bool, *, sizes=(3, 4, 2), T=1.0, chains=64, sweeps=500,
                      burn_in=100, seed=0) -> dict:
    """The change of variables on a tiny network: the mapping on every configuration, and both
    libraries' sampled marginals against ``thermoep.samplers.exact.marginals``."""
    bm, x = boltzmann(sizes, seed, init_scale=1.0)
    form = spin_form(bm, x)
    cost = te.SquaredError()
    y = torch.zeros(1, sizes[-1])
    exact = torch.cat(te.exact.marginals(bm, cost, x, y, 0.0, T), -1)[0].double()
    out = {"sizes": list(sizes), "temperature": T, "chains": chains, "sweeps": sweeps,
           "burn_in": burn_in, "mapping_max_abs_error": mapping_error(bm, x, form),
           "exact_marginals": exact.tolist(), "z_limit": Z_LIMIT}
    rows = {"thermoep": thermoep_marginals(bm, x, T, chains, sweeps, burn_in, seed)}
    if with_thrml:
        rows["thrml"] = thrml_marginals(ThrmlModel(form, T), chains, sweeps, burn_in, seed)
    for name, per_chain in rows.items():
        z = z_scores(per_chain, exact)
        out[name] = {"marginals": per_chain.mean(0).tolist(),
                     "se": (per_chain.std(0) / math.sqrt(chains)).tolist(),
                     "z": z.tolist(), "max_z": float(z.max()),
                     "passed": bool(z.max() < Z_LIMIT)}
    return out


def ess(trace: torch.Tensor) -> float:
    return float(effective_sample_size(trace, chain_dim=0, sample_dim=1))


def machine() -> dict:
    info = {"platform": platform.platform(), "python": platform.python_version(),
            "torch_threads": torch.get_num_threads(),
            "xla_flags": os.environ.get("XLA_FLAGS", ""),
            "load_average_1min_at_end": os.getloadavg()[0]}
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        for line in lscpu.splitlines():
            k, _, v = line.partition(":")
            if k.strip() in ("Model name", "CPU(s)", "Thread(s) per core", "L2 cache",
                             "L3 cache", "Flags"):
                v = v.strip()
                if k.strip() == "Flags":
                    v = " ".join(f for f in v.split() if f.startswith("avx"))
                info[k.strip()] = v
    except (OSError, subprocess.SubprocessError):
        pass
    return info


def versions() -> dict:
    out = {"thermoep": te.__version__, "torch": torch.__version__, "pyro": pyro.__version__,
           "numpy": np.__version__}
    for name in ("thrml", "jax", "jaxlib", "equinox"):
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


HEAD = ("| library | model | chains | sweeps | spin updates/s | of runs (min–max) | ESS | ESS/s | "
        "ESS/sweep | wall s | warm-up s | setup s |")


def table(rows) -> str:
    lines = [HEAD, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        runs = r.get("spin_updates_per_s_runs", [r["spin_updates_per_s"]])
        spread = (f"{min(runs):.3g}–{max(runs):.3g} ({len(runs)})" if len(runs) > 1 else "1 run")
        lines.append(f"| {r['library']} | {r['model']} | {r['chains']} | {r['sweeps']} | "
                     f"{r['spin_updates_per_s']:.3g} | {spread} | {r['ess']:.0f} | "
                     f"{r['ess_per_s']:.3g} | "
                     f"{r['ess_per_sweep']:.3g} | {r['wall_s']:.2f} | {r['warmup_s']:.3f} | "
                     f"{r['setup_s']:.2f} |")
    return "\n".join(lines)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="small models (16 x 16 lattice, 64-32-10 network), chains 1 and 16")
    ap.add_argument("--chains", type=int, nargs="+", default=None)
    ap.add_argument("--models", nargs="+", default=["boltzmann", "lattice"],
                    choices=["boltzmann", "lattice"])
    ap.add_argument("--libraries", nargs="+", default=["thermoep", "thrml"],
                    choices=["thermoep", "thrml"])
    ap.add_argument("--side", type=int, default=None)
    ap.add_argument("--sizes", type=int, nargs="+", default=None)
    ap.add_argument("--dense-lattice", action="store_true",
                    help="the lattice as a dense te.Lateral (the 'before' of the results)")
    ap.add_argument("--merge", action="store_true",
                    help="keep the rows of the models not run (by model name) from the "
                         "existing results file, each with the command that made it")
    ap.add_argument("--lattice-temperature", type=float, default=2.5)
    ap.add_argument("--boltzmann-temperature", type=float, default=1.0)
    ap.add_argument("--burn-in", type=int, default=None, help="sweeps (default 30; quick 10)")
    ap.add_argument("--target-seconds", type=float, default=None,
                    help="wall time of one measurement (default 2; quick 0.2)")
    ap.add_argument("--min-sweeps", type=int, default=None, help="default 20; quick 10")
    ap.add_argument("--repeats", type=int, default=None,
                    help="measured runs per cell, the median's row kept (default 3; quick 1)")
    ap.add_argument("--profile", action="store_true",
                    help="torch.profiler tables for thermoep's cells")
    ap.add_argument("--with-nuts", action="store_true",
                    help="then run benchmarks/nuts_vs_langevin.py (MALA/ULA against NUTS)")
    ap.add_argument("--out", type=Path, default=None,
                    help="results stem (default benchmarks/results/sampler_throughput; "
                         "--quick: /tmp/sampler_throughput_quick)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    q = args.quick
    chains = args.chains or ([1, 16] if q else [1, 64, 1024])
    side = args.side or (16 if q else 64)
    sizes = args.sizes or ([64, 32, 10] if q else [784, 500, 10])
    burn_in = args.burn_in or (10 if q else 30)
    target_s = args.target_seconds or (0.2 if q else 2.0)
    min_sweeps = args.min_sweeps or (10 if q else 20)
    repeats = args.repeats if args.repeats is not None else (1 if q else 3)
    if repeats < 1:
        ap.error("--repeats must be at least 1")
    out = args.out or (Path("/tmp/sampler_throughput_quick") if q
                       else RESULTS / "sampler_throughput")
    torch.set_num_threads(1)

    libraries = list(args.libraries)
    skipped = None
    if "thrml" in libraries:
        skipped = thrml_available()
        if skipped is not None:
            print(f"thrml is not installed ({skipped}): its rows are skipped. Install the "
                  "optional extra (pip install -e '.[bench]') to compare.")
            libraries.remove("thrml")

    print("enumeration check of the change of variables (3-4-2 network, T = 1):")
    check = enumeration_check("thrml" in libraries, seed=args.seed)
    print(f"  max |E(s) - spin form(σ(s)) - c| over all 64 configurations: "
          f"{check['mapping_max_abs_error']:.2e}")
    for name in ("thermoep", "thrml"):
        if name in check:
            c = check[name]
            print(f"  {name:8s} marginals vs exact: max |error|/SE = {c['max_z']:.2f} "
                  f"({'within' if c['passed'] else 'NOT within'} {Z_LIMIT:g} SE)")

    rows = []
    for model in args.models:
        if model == "boltzmann":
            energy, x = boltzmann(sizes, args.seed)
            T, name = args.boltzmann_temperature, f"binary {'-'.join(map(str, sizes))}"
        else:
            energy, x = ising(side, dense=args.dense_lattice), torch.zeros(1, 0)
            T, name = args.lattice_temperature, f"Ising {side}x{side} periodic"
            if args.dense_lattice:
                name += DENSE
        t = time.perf_counter()
        blocks = energy.blocks                       # the colouring, computed once
        te_setup = time.perf_counter() - t
        form = spin_form(energy, x)
        n = form.n
        th = None
        for lib in libraries:
            if lib == "thrml":
                t = time.perf_counter()
                th = ThrmlModel(form, T)
                setup = time.perf_counter() - t
            else:
                setup = te_setup
            for C in chains:
                kw = dict(burn_in=burn_in, target_s=target_s, min_sweeps=min_sweeps,
                          seed=args.seed + C, repeats=repeats)
                if lib == "thermoep":
                    r = thermoep_run(energy, x, form, T, C, profile=args.profile, **kw)
                else:
                    r = thrml_run(th, C, **kw)
                e = ess(r.pop("trace"))
                row = {"library": lib, "model": name, "temperature": T, "chains": C,
                       "free_units": n, "blocks": [len(b) for b in form.blocks],
                       "sweeps": r["sweeps"], "wall_s": r["wall_s"],
                       "spin_updates_per_s": C * n * r["sweeps"] / r["wall_s"],
                       "spin_updates_per_s_runs": [C * n * r["sweeps"] / w
                                                   for w in r["walls_s"]],
                       "ess": e, "ess_per_s": e / r["wall_s"], "ess_per_sweep": e / r["sweeps"],
                       "warmup_s": r["warmup_s"], "burn_in_sweeps": burn_in,
                       "burn_in_s": r["burn_in_s"], "setup_s": setup}
                if "profile" in r:
                    row["profile"] = r["profile"]
                rows.append(row)
                print(f"  {lib:8s} {name:24s} C={C:5d}: {row['spin_updates_per_s']:.3g} "
                      f"updates/s, ESS {e:.0f} in {r['wall_s']:.2f} s ({r['sweeps']} sweeps)",
                      flush=True)
        del blocks

    command = ("python benchmarks/sampler_throughput.py " + " ".join(
        sys.argv[1:] if argv is None else argv)).strip()
    for row in rows:
        row["command"] = command
    previous = out.with_suffix(".json")
    before = None
    if args.merge and previous.exists():
        old = json.loads(previous.read_text())
        ran = {r["model"] for r in rows}
        rows = [{**r, "command": r.get("command", old["command"])} for r in old["rows"]
                if r["model"] not in ran] + rows
        before = old.get("before")
    commands = list(dict.fromkeys(r["command"] for r in rows))
    md = ["# Block-Gibbs throughput: thermoep against thrml\n",
          "One thread per library; see the docstring of benchmarks/sampler_throughput.py for "
          "the protocol. " + ("Command: " if len(commands) == 1 else "Commands (rows merged "
                              "with `--merge`; each row's is in the JSON): ")
          + ", ".join(f"`{c}`" for c in commands) + "\n", table(rows), ""]
    if before:
        md += [f"Before ({before['label']}; `{before['command']}`):\n", table(before["rows"]),
               ""]
    if skipped is not None:
        md.append(f"thrml rows skipped: {skipped}\n")
    md.append("Change of variables s = (σ + 1)/2 checked on a 3-4-2 network at T = 1: "
              f"max |E(s) − spin form − c| = {check['mapping_max_abs_error']:.1e}; marginals "
              "against enumeration, max |error|/SE: " + ", ".join(
                  f"{k} {check[k]['max_z']:.2f}" for k in ("thermoep", "thrml") if k in check)
              + f" (limit {Z_LIMIT:g}).\n")
    mach = machine()
    md.append(f"Machine: {mach.get('Model name', '?')}, {mach.get('CPU(s)', '?')} CPUs, "
              f"load {mach['load_average_1min_at_end']:.2f} at the end; versions: " + ", ".join(
                  f"{k} {v}" for k, v in versions().items() if v) + ".\n")
    result = {"benchmark": "sampler_throughput", "command": command,
              "protocol": "see the module docstring of benchmarks/sampler_throughput.py",
              "settings": {"chains": chains, "side": side, "sizes": sizes, "burn_in": burn_in,
                           "target_seconds": target_s, "min_sweeps": min_sweeps,
                           "lattice_temperature": args.lattice_temperature,
                           "boltzmann_temperature": args.boltzmann_temperature,
                           "t_c": T_C, "seed": args.seed},
              "thrml_skipped": skipped, "enumeration_check": check, "rows": rows,
              **({"before": before} if before else {}),
              "machine": mach, "versions": versions()}
    print()
    print(table(rows))
    out.parent.mkdir(parents=True, exist_ok=True)
    for suffix, text in ((".json", json.dumps(result, indent=2) + "\n"),
                         (".md", "\n".join(md))):
        path = out.with_suffix(suffix)
        tmp = path.with_suffix(suffix + ".tmp")
        tmp.write_text(text)
        tmp.replace(path)
        print(f"wrote {path}")
    if args.with_nuts:
        subprocess.run([sys.executable, str(Path(__file__).parent / "nuts_vs_langevin.py")],
                       check=True)


if __name__ == "__main__":
    main()

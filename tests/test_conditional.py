"""Conditional Rao–Blackwellisation and block Gibbs on continuous (tanh) units.

References: adaptive quadrature (scipy) for one unit's conditional mean; exact enumeration for a
binary Boltzmann machine; a dense grid over every state of a three-unit tanh network for the
continuous Gibbs sampler and the estimators built on it. Tolerances: the estimates' own standard
errors (z < 5 over every parameter entry).
"""

import math
import warnings

import numpy as np
import pytest
import torch
from scipy.integrate import IntegrationWarning, quad

import thermoep as te
from tests.problems import binary_problem, generator, max_z
from thermoep.config import RunConfig
from thermoep.energies.units import Tanh
from thermoep.experiment import build
from thermoep.observers import ConditionalSmoother, MeanParamGrad
from thermoep.samplers.conditionals import Noise, draw

Z = 5.0


def _quad_mean(g: float, T: float) -> float:
    """E[tanh(u)] for u ∝ exp(−(½u² − g tanh u)/T), by adaptive quadrature around the mode."""
    grid = np.linspace(-12, 12, 240001)
    phi = 0.5 * grid**2 - g * np.tanh(grid)
    mode, low = grid[phi.argmin()], phi.min()
    w = 40.0 * math.sqrt(T)

    def density(u):
        return math.exp(-(0.5 * u * u - g * math.tanh(u) - low) / T)

    kw = dict(points=[mode], limit=500, epsabs=0.0, epsrel=1e-11)
    with warnings.catch_warnings():  # "roundoff error": at the requested 1e-11, not a failure
        warnings.simplefilter("ignore", IntegrationWarning)
        z = quad(density, mode - w, mode + w, **kw)[0]
        return quad(lambda u: density(u) * math.tanh(u), mode - w, mode + w, **kw)[0] / z


G = [-10.0, -3.0, -0.3, 0.0, 0.2, 1.0, 2.5, 10.0]


def _bias_only(net, g):
    """Zero couplings, so layer 0's field is its bias, set to g."""
    with torch.no_grad():
        for w in net.weights:
            w.zero_()
        net.biases[0].copy_(g)
    x = torch.zeros(1, net.sizes[0])
    return x, net.init_state((1,))


@pytest.mark.parametrize("T", [1e-3, 1e-2, 0.1, 1.0])
def test_tanh_conditional_mean_matches_quadrature(T, float64):
    net = te.LayeredHopfield([3, len(G), 2], "tanh")
    g = torch.tensor(G)
    ref = torch.tensor([_quad_mean(v, T) for v in G])
    x, s = _bias_only(net, g)
    torch.testing.assert_close(net.conditional_mean(x, s, 0, T)[0], ref, atol=1e-9, rtol=0)
    # any start (here far from the mode) gives the same answer
    start = torch.linspace(-5, 5, len(G))
    torch.testing.assert_close(Tanh().law(g, T, start=start).mean(), ref, atol=1e-9, rtol=0)
    # unit scales (dropout): E[a tanh(u)] with the coupling a·g
    a = torch.tensor([0.0, 0.5, 2.0, 1.0, 1.0, 2.0, 0.5, 1.0])
    with net.scaled_units((a.unsqueeze(0), None)):
        got = net.conditional_mean(x, s, 0, T)[0]
    ref_a = a * torch.tensor([_quad_mean(float(ai * v), T) for ai, v in zip(a, G, strict=True)])
    torch.testing.assert_close(got, ref_a, atol=1e-9, rtol=0)


def test_tanh_conditional_mean_in_float32_at_small_temperature():
    ref = torch.tensor([_quad_mean(v, 1e-3) for v in G], dtype=torch.float32)
    got = Tanh().law(torch.tensor(G, dtype=torch.float32), 1e-3).mean()
    torch.testing.assert_close(got, ref, atol=2e-6, rtol=0)  # 3 nodes: 2e-7 + float32 rounding


def test_draw_shares_its_mode_with_the_conditional_mean(float64):
    g, current = torch.tensor(G), torch.linspace(-1, 1, len(G))
    law = Tanh().law(g, 0.05, start=current)
    draw(law, current, Noise(generator(0)))
    mode = law.laplace()
    torch.testing.assert_close(law.mean(), Tanh().law(g, 0.05, start=current).mean())
    assert law.laplace() is mode  # computed once, shared by the draw and the mean


@pytest.mark.parametrize("kappa, lam", [(1.0, 0.0), (1.5, 0.4)])
def test_metropolis_ratio_is_the_difference_of_residual_potentials(kappa, lam, float64):
    """TanhLaw.residual_difference (the Metropolis step's log-ratio, written in the offsets to
    the mode) equals r(v) − r(w) for r(x) = φ(x) − ½c(x − u*)² evaluated directly."""
    g = torch.tensor(G)
    law = Tanh().law(g, 0.05, kappa - 1.0, lam)   # κ = 1 + κ', λ: a nudged output's law
    u, curv = law.laplace()
    c = curv.clamp_min(0.5)                         # any proposal width
    v, w = u + torch.linspace(-0.3, 0.4, len(G)), u + torch.linspace(0.2, -0.5, len(G))

    def rest(x):
        return law.potential(x) - 0.5 * c * (x - u) ** 2

    torch.testing.assert_close(law.residual_difference(v, w, c), rest(v) - rest(w),
                               rtol=1e-10, atol=1e-12)


def test_gibbs_laws_are_those_of_the_current_state(float64):
    """The laws a sweep leaves in its state (the last block's) are the conditional laws given
    the state's other layers: what conditional Rao–Blackwellisation reads."""
    net, cost, x, y = _tanh_problem()
    target = te.Target.of(net, cost, x, y, 0.0)
    sampler = te.Gibbs(sweeps=3, burn_in=0, temperature=T_GRID, chains=4)
    state = sampler.init(target, generator=generator(1))
    state, _ = sampler.step(target, state, 0, generator=generator(1))
    assert set(state.laws) == {0}  # the hidden layer: its block goes last
    fresh = net.conditional_mean(target.x, state.position, 0, T_GRID)
    torch.testing.assert_close(state.laws[0].mean(), fresh)


def test_conditional_mean_refuses_other_activations():
    net = te.LayeredHopfield([3, 4, 2], "sigmoid4")
    with pytest.raises(TypeError, match="no closed-form law"):
        net.conditional_mean(torch.zeros(1, 3), net.init_state((1,)), 0, 0.1)


@pytest.mark.parametrize("estimator", ["finite-nudge", "path-integral"])
def test_conditional_gibbs_on_boltzmann_matches_enumeration(estimator, float64):
    bm, cost, x, y = binary_problem((3, 4, 3), batch=3, seed=5)
    ref = te.exact.grad_L(bm, cost, x, y, beta=0.8, temperature=1.0)
    grads = {}
    for conditional in (False, True):
        sampler = te.Gibbs(sweeps=800, burn_in=100, chains=32)
        rb = "conditional" if conditional else None
        est = (te.FiniteNudge(sampler, 0.8, rao_blackwell=rb) if estimator == "finite-nudge"
               else te.PathIntegral(sampler, 0.8, nodes=3, rao_blackwell=rb))
        grads[conditional] = est(bm, cost, x, y, generator=generator(7))
        assert max_z(grads[conditional], ref) < Z
    se = {c: torch.cat([v.flatten() for v in g.stats["se"].values()]) for c, g in grads.items()}
    assert float((se[True] / se[False]).median()) < 0.9  # and it removes noise


# -- a three-unit tanh network, integrated on a grid ----------------------------------------------

T_GRID = 0.3


def _tanh_problem():
    torch.manual_seed(3)
    net = te.LayeredHopfield([2, 2, 1], "tanh", init_scale=1.0)
    x = torch.tensor([[0.8, -0.5], [-1.0, 0.3]])
    y = torch.tensor([[0.6], [-0.4]])
    return net, te.SquaredError(), x, y


def _grid_mean_grad(net, cost, x, y, b):
    """E_b[∂θE] (batch mean) by a dense grid over (s_1, s_2) ∈ [−4.5, 4.5]³."""
    u = torch.linspace(-4.5, 4.5, 121)
    a, c, d = torch.meshgrid(u, u, u, indexing="ij")
    s1 = torch.stack([a.flatten(), c.flatten()], -1).unsqueeze(1).expand(-1, x.shape[0], 2)
    s2 = d.flatten().reshape(-1, 1, 1).expand(-1, x.shape[0], 1)
    with torch.no_grad():
        U = net.energy(x, (s1, s2)) + b * cost.value(s2, y)  # [K, B]
        p = torch.softmax(-U / T_GRID, dim=0)
        return {k: v / x.shape[0] for k, v in net.param_grad(x, (s1, s2), p).items()}


def test_continuous_gibbs_matches_grid_quadrature(float64):
    net, cost, x, y = _tanh_problem()
    ref = _grid_mean_grad(net, cost, x, y, 0.7)
    for conditional in (False, True):
        sampler = te.Gibbs(sweeps=800, burn_in=100, temperature=T_GRID, chains=32)
        observer = MeanParamGrad(ConditionalSmoother() if conditional else None)
        ph = sampler.run(net, cost, x, y, 0.7, generator=generator(11), observers=[observer])
        assert ph.info["acceptance"] > 0.5
        stat = ph["param_grad"]
        for k, v in stat.mean.items():
            chains = stat.chains[k]
            se = chains.std(0) / math.sqrt(chains.shape[0])
            assert float(((v - ref[k]).abs() / se.clamp_min(1e-12)).max()) < Z, (k, conditional)


@pytest.mark.parametrize("estimator", ["finite-nudge", "path-integral"])
def test_estimators_with_continuous_conditional_gibbs_match_grid(estimator, float64):
    net, cost, x, y = _tanh_problem()
    beta = 0.7
    g0, gb = _grid_mean_grad(net, cost, x, y, 0.0), _grid_mean_grad(net, cost, x, y, beta)
    ref = {k: (gb[k] - g0[k]) / beta for k in g0}
    sampler = te.Gibbs(sweeps=600, burn_in=100, temperature=T_GRID, chains=32)
    est = (te.FiniteNudge(sampler, beta, rao_blackwell="conditional")
           if estimator == "finite-nudge"
           else te.PathIntegral(sampler, beta, nodes=3, rao_blackwell="conditional"))
    assert max_z(est(net, cost, x, y, generator=generator(13)), ref) < Z


def test_continuous_gibbs_refuses_what_it_cannot_sample():
    net = te.LayeredHopfield([3, 4, 2], "tanh")
    x, y = torch.randn(2, 3), torch.tensor([0, 1])
    with pytest.raises(TypeError, match="SquaredError"):
        te.Gibbs(sweeps=3, burn_in=1, temperature=0.1).run(net, te.CrossEntropy(), x,
                                                             torch.eye(2)[y], 0.5)
    with pytest.raises(ValueError, match="Monte-Carlo"):
        te.FiniteNudge(te.Relaxation(), rao_blackwell="conditional")
    with pytest.raises(ValueError, match="unknown Rao"):
        te.FiniteNudge(te.Gibbs(), rao_blackwell="both")


def test_conditional_settings_are_validated():
    base = dict(dataset="digits", hidden=(8,), temperature=0.01, estimator="finite-nudge",
                limit_train=64, limit_test=32)
    cfg = RunConfig.of(sampler="gibbs", conditional=True, **base).resolved()
    assert isinstance(cfg.make_sampler(), te.Gibbs)
    assert cfg.get("estimator.rao_blackwell") == "conditional"
    # found when the run is built, before the first batch
    with pytest.raises(TypeError, match="sigmoid4 units have no closed-form law"):
        build(RunConfig.of(sampler="gibbs", activation="sigmoid4", **base))
    with pytest.raises(ValueError, match="Monte-Carlo"):
        RunConfig.of(hidden=(8,), dataset="digits", sampler="relax",
                     conditional=True).resolved()
    with pytest.raises(ValueError, match="choose one Rao"):
        RunConfig.of(sampler="langevin", conditional=True, rao_blackwell=True,
                     **base).resolved()


def test_tanh_mode_from_a_start_where_newton_oscillates():
    """A unit whose Newton iterations jump between both ends of the bracket (start near 0,
    field ≈ 5.6: the step from u ≈ 0 lands near g, the one from there near 0) still gets its
    mode: the root of φ'(u) = κu − λ − g sech²u found by scipy's brentq in float64, within the
    Newton tolerance, in float32 at T = 10⁻³, for a grid of fields and starts (nudged output
    laws included)."""
    from scipy.optimize import brentq

    T = 1e-3
    band = torch.linspace(5.5, 5.8, 31)  # the old safeguard cycled near ±5.63 (a narrow band)
    fields = torch.cat([torch.linspace(-12.0, 12.0, 97), band, -band])
    starts = torch.tensor([-6.0, -1.0, -0.01, 0.0, 0.0064, 0.3, 2.0, 6.0])
    g = fields.repeat_interleave(len(starts))
    start = starts.repeat(len(fields))
    for kappa, lam in [(1.0, 0.0), (1.5, 0.4)]:
        u, _ = Tanh().law(g, T, kappa - 1.0, lam, start=start).laplace()

        def slope(v, gv, kappa, lam):
            return kappa * v - lam - gv / math.cosh(v) ** 2

        ref = torch.tensor([brentq(slope, (lam + min(0.0, gv)) / kappa - 1e-9,
                                   (lam + max(0.0, gv)) / kappa + 1e-9, args=(gv, kappa, lam),
                                   xtol=1e-12)
                            for gv in g.double().tolist()])
        err = (u.double() - ref).abs()
        # tolerance 10⁻³√T on the step, plus float32 rounding of u (|u| ≤ 12)
        assert err.max() < 1e-3 * math.sqrt(T) + 1e-5, (kappa, float(err.max()),
                                                        float(g[err.argmax()]))


def test_gibbs_first_sweep_from_the_initial_zeros_needs_no_bracketed_search(monkeypatch):
    """From the energy's initial zeros (no warm start), the first sweep starts each tanh law's
    mode search at the law's own guess, not at 0: with fields of ≈ 5.6 Newton from 0 would cycle
    and fall back to the slow bracketed search, which here must not be called at all. Given the
    same zeros as an explicit warm start, the search does start from them (and needs it)."""
    import thermoep.energies.laws as laws

    calls = []

    def refuse(*args):
        calls.append(args[0].numel())
        return _original(*args)

    _original = laws._bracketed_newton
    monkeypatch.setattr(laws, "_bracketed_newton", refuse)
    net = te.LayeredHopfield([3, 16, 2], "tanh")
    g = torch.linspace(5.55, 5.7, 16)
    x, zeros = _bias_only(net, g)
    target = te.Target.of(net, te.SquaredError(), x, torch.tensor([0]))
    gibbs = te.Gibbs(sweeps=3, burn_in=1, temperature=1e-3, chains=2)
    te.sample(gibbs, target, generator=generator(0))
    assert calls == []
    te.sample(gibbs, target, init=zeros, generator=generator(0))
    assert calls and calls[0] > 0


@pytest.mark.parametrize("estimator", ["finite-nudge", "path-integral"])
def test_warm_schedule_keeps_the_estimators_exact(estimator, float64):
    """Warm-started phases with their own schedule (a short free phase, nodes that burn in
    little and keep more) still match the grid: what they keep follows p_b."""
    net, cost, x, y = _tanh_problem()
    beta = 0.7
    g0, gb = _grid_mean_grad(net, cost, x, y, 0.0), _grid_mean_grad(net, cost, x, y, beta)
    ref = {k: (gb[k] - g0[k]) / beta for k in g0}
    sampler = te.Gibbs(sweeps=150, burn_in=100, temperature=T_GRID, chains=32,
                       warm_sweeps=520, warm_burn_in=20)
    est = (te.FiniteNudge(sampler, beta, rao_blackwell="conditional")
           if estimator == "finite-nudge"
           else te.PathIntegral(sampler, beta, nodes=3, rao_blackwell="conditional"))
    g = est(net, cost, x, y, generator=generator(17))
    nudged = [ph for b, ph in g.phases.items() if b != 0.0]
    assert g.phases[0.0].info["samples"] == 50
    assert all(ph.info["samples"] == 500 for ph in nudged)
    assert max_z(g, ref) < Z


def test_newton_stops_once_its_quadratic_bound_is_met(monkeypatch):
    """From a start one conditional width (√T) off the mode, two Newton steps put every unit
    within 10⁻³√T of brentq's root, and the bound |g|Δ²/φ'' says so: the search stops after
    two steps (the test on the step itself needed a third)."""
    from scipy.optimize import brentq

    import thermoep.energies.laws as laws

    T = 1e-3
    g = torch.linspace(-6.0, 6.0, 241, dtype=torch.float64)
    ref = torch.tensor([brentq(lambda v, gv=gv: v - gv / math.cosh(v) ** 2, min(0.0, gv) - 1e-9,
                               max(0.0, gv) + 1e-9, xtol=1e-14) for gv in g.tolist()],
                       dtype=torch.float64)
    calls = []
    original = laws.fast_tanh
    monkeypatch.setattr(laws, "fast_tanh", lambda u: calls.append(1) or original(u))
    u, _ = Tanh().law(g, T, start=ref + math.sqrt(T)).laplace()
    assert len(calls) == 2
    assert float((u - ref).abs().max()) < 1e-3 * math.sqrt(T)


def test_shared_one_is_a_plain_tensor_whatever_the_first_caller():
    """``one_like`` (the base of 1 − t² in one pass) caches a plain tensor even when first
    asked under inference mode, and inside ``torch.func.grad`` gives the transform its own
    constant; the derivative of 1 − tanh² through it is exact."""
    from thermoep.energies import laws

    laws._ONES.clear()
    with torch.inference_mode():
        laws.one_like(torch.zeros(2))
    assert not laws._ONES[(torch.float32, torch.device("cpu"))].is_inference()
    laws._ONES.clear()
    x = torch.linspace(-2, 2, 5)
    got = torch.func.grad(lambda v: Tanh().rho_prime(v).sum())(x)
    t = torch.tanh(x)
    torch.testing.assert_close(got, -2 * t * (1 - t * t), atol=1e-6, rtol=0)
    assert (torch.float32, torch.device("cpu")) not in laws._ONES

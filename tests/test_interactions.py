"""Every interaction's analytic energy pieces equal automatic differentiation (float64).

For a term E_k(ρ_a[, ρ_b]) the analytic ``field(i, *rho)`` must be −∂E_k/∂ρ_i and
``param_grad(*rho, weight=w, per_chain=...)`` must be ∂θ Σ_positions w·E_k (per chain: one row
per leading chain index, summing to the total). Shapes are drawn by hypothesis: leading chain
dimensions ``[C, B, ...]`` or ``[B, ...]``, dense and (C, H, W) layers, every convolution
geometry the term accepts, and one side as the clamped input ``[B, ...]`` broadcast against the
other's chains. Then the same identities through :class:`thermoep.Energy` (``state_grad``,
``param_grad`` against autograd of ``energy``) on random mixed architectures, with dropout
scales; and under spectral normalisation, where gradients are taken with respect to the stored
``parametrizations.weight.original``.
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch.nn.utils.parametrizations import spectral_norm

import thermoep as te
from tests.problems import float64_default, generator
from thermoep.diagnostics import lipschitz_constant

# -- the generic check ----------------------------------------------------------------------------


def _rho(shape, g, clamp01=False):
    t = torch.randn(*shape, generator=g)
    return 0.05 + 0.9 * torch.rand(*shape, generator=g) if clamp01 else t


def _rhos(term, layers, lead, clamped, g):
    """ρ for each layer of ``term``: ``[*lead, *shape]``, the ``clamped`` side ``[B, *shape]``."""
    out = []
    for p, layer in enumerate(layers):
        shape = (lead[-1:] if p == clamped else lead) + tuple(layer.shape)
        out.append(_rho(shape, g))
    return out


def _autograd_fields(term, rho):
    rho = [r.detach().clone().requires_grad_() for r in rho]
    grads = torch.autograd.grad(term.energy(*rho).sum(), rho)
    return [-g for g in grads]


def _autograd_params(term, rho, weight, chain=None):
    params = dict(term.named_parameters())
    if not params:
        return {}
    e = term.energy(*(r.detach() for r in rho))
    if weight is not None:
        e = e * weight
    if chain is not None:
        e = e[chain]
    grads = torch.autograd.grad(e.sum(), list(params.values()), allow_unused=True)
    return {k: torch.zeros_like(p) if gr is None else gr
            for (k, p), gr in zip(params.items(), grads, strict=True)}


def check_term(term, layers, lead, clamped=None, seed=0):
    """Assert field and param_grad of ``term`` equal autograd (module docstring)."""
    g = generator(seed)
    rho = _rhos(term, layers, lead, clamped, g)
    e = term.energy(*rho)
    assert e.shape == tuple(lead)
    assert torch.isfinite(e).all()
    auto = _autograd_fields(term, rho)
    for i in range(len(layers)):
        if i == clamped:
            continue  # the input receives no field
        h = term.field(i, *rho)
        # a field that depends on the clamped input alone may come without the chain
        # dimensions (it broadcasts against them)
        torch.testing.assert_close(h.expand_as(rho[i]), auto[i])
    params = dict(term.named_parameters())
    for weight in (None, torch.rand(*lead, generator=g) + 0.5):
        ref = _autograd_params(term, rho, weight)
        got = term.param_grad(*rho, weight=weight)
        assert list(got) == list(params)  # keyed like named_parameters(), in its order
        for k in params:
            assert got[k].shape == params[k].shape
            torch.testing.assert_close(got[k], ref[k])
        if len(lead) == 2 and params:
            rows = term.param_grad(*rho, weight=weight, per_chain=True)
            for k in params:
                assert rows[k].shape == (lead[0], *params[k].shape)
                torch.testing.assert_close(rows[k].sum(0), ref[k])
                for c in range(lead[0]):
                    torch.testing.assert_close(rows[k][c],
                                               _autograd_params(term, rho, weight, c)[k])
    if params:  # something was actually compared: the reference gradients are not all zero
        assert any(float(v.abs().max()) > 1e-6
                   for v in _autograd_params(term, rho, None).values())


# -- strategies -----------------------------------------------------------------------------------

lead_st = st.sampled_from([(3,), (2, 3), (1, 2), (3, 1)])
dense_shape_st = st.one_of(
    st.integers(1, 5).map(lambda n: (n,)),
    st.tuples(st.integers(1, 2), st.integers(1, 3), st.integers(1, 3)))
seed_st = st.integers(0, 10_000)


@st.composite
def conv_st(draw):
    """A convolution geometry Conv2d accepts: kernel 1–3, stride 1–2, padding 0–1, then max,
    average or no pooling with a pool size that fits the convolution's output."""
    c_a, c_b = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    k = draw(st.integers(1, 3))
    stride, pad = draw(st.integers(1, 2)), draw(st.integers(0, 1))
    # padded inputs of at least 2 × 2, so some output sees real input (a 1 × 1 input, padded,
    # under a strided 1 × 1 kernel would couple nothing)
    low = max(1 + pad, k - 2 * pad)
    h, w = draw(st.integers(low, 6)), draw(st.integers(low, 6))
    hc, wc = (h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1
    pool = draw(st.sampled_from(["max", "avg", None]))
    size = draw(st.integers(1, min(3, hc, wc))) if pool else 1
    return dict(a=(c_a, h, w), b=(c_b, hc // size, wc // size), kernel_size=k, stride=stride,
                padding=pad, pool=pool, pool_size=size)


def _layers(*shapes, clamped=None):
    return [te.Input(f"l{p}", s) if p == clamped else te.Layer(f"l{p}", s, "tanh")
            for p, s in enumerate(shapes)]


# -- each interaction -----------------------------------------------------------------------------


@given(a=dense_shape_st, b=dense_shape_st, lead=lead_st, clamped=st.sampled_from([None, 0, 1]),
       seed=seed_st)
def test_dense_matches_autograd(a, b, lead, clamped, seed):
    with float64_default():
        torch.manual_seed(seed)
        layers = _layers(a, b, clamped=clamped)
        check_term(te.Dense(*layers, init_scale=0.7), layers, lead, clamped, seed)


@given(shape=st.one_of(st.integers(1, 6).map(lambda n: (n,)),
                       st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3))),
       per_channel=st.booleans(), lead=lead_st, seed=seed_st)
def test_bias_matches_autograd(shape, per_channel, lead, seed):
    with float64_default():
        torch.manual_seed(seed)
        layers = _layers(shape)
        term = te.Bias(layers[0], init_scale=0.7, per_channel=per_channel)
        expected = (shape[0],) if per_channel and len(shape) == 3 else shape
        assert tuple(term.bias.shape) == expected
        check_term(term, layers, lead, None, seed)


@given(geometry=conv_st(), lead=lead_st, clamped=st.sampled_from([None, 0, 1]), seed=seed_st)
def test_conv2d_matches_autograd(geometry, lead, clamped, seed):
    with float64_default():
        torch.manual_seed(seed)
        layers = _layers(geometry.pop("a"), geometry.pop("b"), clamped=clamped)
        term = te.Conv2d(*layers, **geometry)
        check_term(term, layers, lead, clamped, seed)


@st.composite
def lateral_st(draw):
    """(layer shape, mask) with a dense, lattice or ring mask over the layer's units."""
    kind = draw(st.sampled_from(["dense", "lattice", "ring"]))
    if kind == "lattice":
        h, w = draw(st.integers(1, 3)), draw(st.integers(2, 3))
        shape = draw(st.sampled_from([(h * w,), (1, h, w)]))
        return shape, te.lattice(h, w, periodic=draw(st.booleans()))
    shape = draw(st.one_of(st.integers(2, 7).map(lambda n: (n,)),
                           st.tuples(st.integers(1, 2), st.integers(1, 2), st.integers(2, 3))))
    n = 1
    for d in shape:
        n *= d
    if kind == "ring":
        return shape, te.ring(n, draw(st.integers(1, 2)))
    return shape, None


@given(spec=lateral_st(), lead=lead_st, seed=seed_st)
def test_lateral_matches_autograd(spec, lead, seed):
    shape, mask = spec
    with float64_default():
        torch.manual_seed(seed)
        layers = _layers(shape)
        term = te.Lateral(layers[0], mask, init_scale=0.7)
        J = term.weight
        torch.testing.assert_close(J, J.T)  # symmetric, zero diagonal, zero off the mask
        assert bool((J.diagonal() == 0).all())
        if mask is not None:
            assert bool((J[~mask] == 0).all())
        check_term(term, layers, lead, None, seed)


@given(shapes=st.lists(dense_shape_st, min_size=1, max_size=2), patterns=st.integers(1, 5),
       beta=st.sampled_from([0.5, 1.0, 2.5]), lead=lead_st,
       clamped=st.sampled_from([None, 0]), seed=seed_st)
def test_modern_hopfield_matches_autograd(shapes, patterns, beta, lead, clamped, seed):
    with float64_default():
        torch.manual_seed(seed)
        clamped = clamped if len(shapes) == 2 else None
        layers = _layers(*shapes, clamped=clamped)
        term = te.ModernHopfield(*layers, patterns=patterns, beta=beta, init_scale=1.0)
        check_term(term, layers, lead, clamped, seed)


@given(shape=dense_shape_st, lead=lead_st, seed=seed_st)
def test_quadratic_matches_autograd(shape, lead, seed):
    with float64_default():
        g = generator(seed)
        layers = _layers(shape)
        n = layers[0].size
        a = torch.randn(n, n, generator=g)
        term = te.Quadratic(layers[0], a + a.T)
        assert term.param_grad(*_rhos(term, layers, lead, None, g)) == {}  # K is not trained
        check_term(term, layers, lead, None, seed)


# -- through the energy ---------------------------------------------------------------------------

UNIT_KINDS = ["tanh", "sigmoid4", "hardsigmoid", "linear", "binary", "spin"]


@st.composite
def energy_st(draw):
    """A random small architecture, as a builder (so its parameters are created in the test's
    dtype): input (dense or (1, 4, 4)), a hidden layer reached by Dense or Conv2d (any pooling),
    optional Lateral coupling within it, an output layer reached by Dense or a two-layer
    ModernHopfield, optional biases, a Quadratic and a one-layer ModernHopfield on the output;
    and whether to scale the hidden units (dropout)."""
    units = [draw(st.sampled_from(UNIT_KINDS)) for _ in range(2)]
    conv = draw(st.booleans())
    pool = draw(st.sampled_from(["max", "avg", None]))
    n_in, h_shape = draw(st.integers(1, 4)), draw(dense_shape_st)
    n_out = draw(st.integers(1, 3))
    flags = {k: draw(st.booleans()) for k in ("bias_h", "per_channel", "lateral", "ring",
                                               "dense_out", "bias_o", "quadratic", "hopfield_o")}
    dropout = draw(st.booleans())

    def build():
        if conv:
            x = te.Input("x", (1, 4, 4))
            h = te.Layer("h", (2, 2, 2) if pool else (2, 4, 4), units[0])
            first = te.Conv2d(x, h, kernel_size=3, padding=1, pool=pool, pool_size=2,
                              init_scale=0.5)
        else:
            x, h = te.Input("x", n_in), te.Layer("h", h_shape, units[0])
            first = te.Dense(x, h, init_scale=0.5)
        o = te.Layer("o", n_out, units[1])
        terms = [first]
        if flags["bias_h"]:
            terms.append(te.Bias(h, init_scale=0.5, per_channel=flags["per_channel"]))
        if flags["lateral"] and h.size > 1:
            terms.append(te.Lateral(h, te.ring(h.size) if flags["ring"] else None,
                                    init_scale=0.5))
        if flags["dense_out"]:
            terms.append(te.Dense(h, o, init_scale=0.5))
        else:
            terms.append(te.ModernHopfield(h, o, patterns=3, init_scale=0.5))
        if flags["bias_o"]:
            terms.append(te.Bias(o, init_scale=0.5))
        if flags["quadratic"]:
            terms.append(te.Quadratic(o, 0.3 * torch.eye(o.size)))
        if flags["hopfield_o"]:
            terms.append(te.ModernHopfield(o, patterns=2, init_scale=0.5))
        return te.Energy([x, h, o], terms)

    return build, dropout


def _state(energy, lead, g):
    return tuple(_rho((*lead, *layer.shape), g, clamp01=layer.unit.name == "hardsigmoid")
                 for layer in energy.free_layers)


@given(spec=energy_st(), lead=st.sampled_from([(2, 3), (3,)]), seed=seed_st)
def test_energy_gradients_match_autograd(spec, lead, seed):
    build, dropout = spec
    with float64_default():
        g = generator(seed)
        energy = build()
        B = lead[-1]
        x = torch.randn(B, *energy.input.shape, generator=g)
        s = _state(energy, lead, g)
        scales = None
        if dropout:  # dropout-style scales a = m / (1 − p) on the hidden layer, [B, *shape]
            m = (torch.rand(B, *energy.free_layers[0].shape, generator=g) < 0.6).double()
            scales = (m / 0.6, None)
        with energy.scaled_units(scales):
            leaves = tuple(t.clone().requires_grad_() for t in s)
            e = energy.energy(x, leaves)
            assert e.shape == lead
            auto = torch.autograd.grad(e.sum(), leaves)
            for got, ref in zip(energy.state_grad(x, s), auto, strict=True):
                torch.testing.assert_close(got, ref)
            params = dict(energy.named_parameters())
            w = torch.rand(*lead, generator=g) + 0.5
            ref = torch.autograd.grad((w * energy.energy(x, s)).sum(), list(params.values()))
            got = energy.param_grad(x, s, w)
            assert list(got) == list(params)
            for (k, _), r in zip(params.items(), ref, strict=True):
                torch.testing.assert_close(got[k], r)
            if len(lead) == 2:
                rows = energy.param_grad(x, s, w, per_chain=True)
                for k in params:
                    torch.testing.assert_close(rows[k].sum(0), got[k])
                    ref_c = torch.autograd.grad((w[0] * energy.energy(x, s)[0]).sum(), params[k])
                    torch.testing.assert_close(rows[k][0], ref_c[0])


def test_field_of_a_term_whose_other_layer_is_the_input_on_its_output_side(float64):
    """A term may take the clamped input as its *second* layer (a top-down coupling into the
    data); the part of the field that depends on the input alone is then computed once per
    batch, and must be the field the term gives with the free layer's state."""
    h = te.Layer("h", (2, 4, 4), "tanh")
    for pool in ("avg", None):
        x = te.Input("x", (1, 2, 2) if pool else (1, 4, 4))
        energy = te.Energy([h, x], [te.Conv2d(h, x, kernel_size=3, padding=1, pool=pool,
                                              pool_size=2), te.Bias(h, init_scale=0.3)])
        X = torch.randn(3, *x.shape)
        s = (torch.randn(2, 3, *h.shape),)
        leaves = (s[0].clone().requires_grad_(),)
        auto = torch.autograd.grad(energy.energy(X, leaves).sum(), leaves)[0]
        torch.testing.assert_close(energy.state_grad(X, s)[0], auto)


# -- spectral normalisation -----------------------------------------------------------------------


def _spectral_terms():
    """(term, its layers, clamped side) for each weight-carrying interaction."""
    x, h = te.Input("x", 5), te.Layer("h", 4, "tanh")
    xc, hc = te.Input("x", (1, 5, 5)), te.Layer("h", (2, 2, 2), "tanh")
    h6 = te.Layer("h", 6, "tanh")
    return {
        "dense": (te.Dense(x, h), [x, h], 0),
        "conv2d": (te.Conv2d(xc, hc, kernel_size=3, padding=1, pool="max", pool_size=2),
                   [xc, hc], 0),
        "lateral": (te.Lateral(h6, te.ring(6), init_scale=0.8), [h6], None),
        "modern-hopfield": (te.ModernHopfield(x, h, patterns=4), [x, h], 0),
    }


@pytest.mark.parametrize("name", list(_spectral_terms()))
def test_spectral_norm_param_grad_is_autograd_of_the_original(name, float64):
    torch.manual_seed(0)
    term, layers, clamped = _spectral_terms()[name]
    spectral_norm(term, "weight")
    term.eval()  # freeze the power iteration between the analytic and the autograd pass
    assert "parametrizations.weight.original" in dict(term.named_parameters())
    check_term(term, layers, (2, 3), clamped, seed=1)
    # the effective weight is normalised (σ_max = 1), so this is not the plain term's gradient
    w = term.weight.detach()
    sigma = torch.linalg.matrix_norm(w.reshape(w.shape[0], -1) if w.dim() > 2 else w, ord=2)
    torch.testing.assert_close(sigma, torch.tensor(1.0), atol=1e-3, rtol=0)
    assert term.default_name.startswith(name.replace("-", ""))  # the key ignores parametrize


def _spectral_layered(sizes=(6, 8, 3), seed=0):
    """A LayeredHopfield-like net with spectrally normalised dense weights."""
    torch.manual_seed(seed)
    layers = [te.Input("x", sizes[0])] + [te.Layer(f"s{i}", n, "tanh")
                                          for i, n in enumerate(sizes[1:], 1)]
    terms = []
    for a, b in zip(layers[:-1], layers[1:], strict=True):
        terms += [spectral_norm(te.Dense(a, b, init_scale=1.0), "weight"), te.Bias(b)]
    return te.Energy(layers, terms)


def test_spectrally_normalised_net_trains_and_has_a_lipschitz_constant(float64):
    net = _spectral_layered()
    assert "dense_x_s1.parametrizations.weight.original" in dict(net.named_parameters())
    g = generator(0)
    x, y = torch.randn(16, 6, generator=g), torch.randint(0, 3, (16,), generator=g)
    cost = te.SquaredError()
    # the EP gradient reaches the stored originals through the parametrisation: at a settled
    # fixed point, centered EP with a small β is the implicit gradient (eval: one weight)
    net.eval()
    settled = te.Relaxation(steps=3000, tol=1e-12)
    ep = te.Centered(settled, beta=1e-3)(net, cost, x, y)
    ref = te.implicit_grad(net, cost, x, y, settled)
    assert list(ep) == list(ref) == [k for k, _ in net.named_parameters()]
    err = float((ep.flat() - ref.flat()).norm() / ref.flat().norm())
    assert err < 1e-5, err  # O(β²) with β = 1e-3
    net.train()
    est = te.Centered(te.Relaxation(steps=60), beta=0.1)
    opt = torch.optim.SGD(net.parameters(), lr=0.3)
    losses = []
    for _ in range(8):
        opt.zero_grad()
        grad = est(net, cost, x, y)
        grad.apply_(net)
        opt.step()
        losses.append(grad.loss)
    assert losses[-1] < losses[0] - 0.02, losses
    for k, w in ((k, m.weight) for k, m, _ in net.terms() if k.startswith("dense")):
        sigma = torch.linalg.matrix_norm(w.detach(), ord=2)
        assert float(sigma) < 1.01, (k, float(sigma))  # still normalised after training
    ds = lipschitz_constant(net, cost, x, y, te.Relaxation(steps=60))
    assert 0.0 < float(ds["lipschitz_max"]) < 1.0


def test_lipschitz_constant_on_conv_and_lateral_architectures(float64):
    """The diagnostic differentiates one relaxation step, so it must work through every term's
    field: a conv net (max pooling, spectrally normalised), a net whose hidden layer has a
    spectrally normalised ring coupling, and a modern-Hopfield net."""
    torch.manual_seed(0)
    cost = te.SquaredError()
    g = generator(1)
    x, c, o = te.Input("x", (1, 6, 6)), te.Layer("c", (3, 3, 3), "tanh"), te.Layer("o", 4, "tanh")
    conv = te.Energy([x, c, o], [spectral_norm(te.Conv2d(x, c, kernel_size=3, padding=1),
                                               "weight"), te.Bias(c), te.Dense(c, o)])
    xd, h = te.Input("x", 5), te.Layer("h", 6, "tanh")
    lateral = te.Energy([xd, h, o], [te.Dense(xd, h), spectral_norm(
        te.Lateral(h, te.ring(6), init_scale=1.0), "weight"), te.Dense(h, o), te.Bias(o)])
    hopfield = te.Energy([xd, h, o], [te.Dense(xd, h), te.ModernHopfield(h, o, patterns=5)])
    for energy, shape in ((conv, (1, 6, 6)), (lateral, (5,)), (hopfield, (5,))):
        X, y = torch.randn(4, *shape, generator=g), torch.randint(0, 4, (4,), generator=g)
        ds = lipschitz_constant(energy, cost, X, y, te.Relaxation(steps=200, tol=1e-10))
        L = float(ds["lipschitz_max"])
        assert 0.0 < L < 1.0, L
        assert float(ds["residual"].max()) < 1e-8

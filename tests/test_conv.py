"""A small convolutional Hopfield network built from the library API (the DCHN shape of
ebl-algorithms-comparative-study §3, in miniature):

    x (1 × 8 × 8) --Conv2d 3×3, padding 1, 2×2 max pooling--> h (4 × 4 × 4) --Dense--> o (10),

with a per-channel bias on h and a bias on o, on scikit-learn's 8 × 8 digits. It trains with
centered EP and an optimizer; at a settled fixed point (float64, residual < 1e-13) its EP
gradients converge to the implicit-differentiation gradient with the orders of DESIGN.md §1
(one-sided O(β), centered O(β²): error slopes 1 and 2 in log-log), and backpropagation
through the relaxation agrees with the implicit gradient.

The slopes are checked with tanh units. Hard-sigmoid units make G(b) = ∂θE(s*_b) only
piecewise smooth: here a few units settle within 10⁻³ of the box edge and cross it under a
nudge b ≈ −0.01, so the centered slope over β ∈ [0.0025, 0.01] is not 2 (the one-sided β > 0
slope still is 1); they are trained, not slope-checked.
"""

from __future__ import annotations

import math

import pytest
import torch
from sklearn.datasets import load_digits

import thermoep as te

BETAS = (0.01, 0.005, 0.0025)


def digits(n=16):
    """The first ``n`` digits, pixels scaled to [0, 1], as ``[n, 1, 8, 8]`` and labels."""
    d = load_digits()
    x = torch.tensor(d.images[:n] / 16.0, dtype=torch.get_default_dtype()).unsqueeze(1)
    return x, torch.tensor(d.target[:n])


def conv_net(unit="tanh", seed=0):
    """The network of the module docstring (default initialisation: it contracts)."""
    torch.manual_seed(seed)
    x, h, o = te.Input("x", (1, 8, 8)), te.Layer("h", (4, 4, 4), unit), te.Layer("o", 10, unit)
    return te.Energy([x, h, o], [
        te.Conv2d(x, h, kernel_size=3, padding=1, pool="max", pool_size=2),
        te.Bias(h, init_scale=0.1),
        te.Dense(h, o),
        te.Bias(o, init_scale=0.1),
    ])


def test_conv_net_layout():
    net = conv_net()
    assert [n for n, _ in net.named_parameters()] == [
        "conv2d_x_h.weight", "bias_h.bias", "dense_h_o.weight", "bias_o.bias"]
    assert net.conv2d_x_h.weight.shape == (4, 1, 3, 3)
    assert net.bias_h.bias.shape == (4,)                 # per channel
    assert net.dense_h_o.weight.shape == (64, 10)
    assert net.layer_blocks == ((0,), (1,))


@pytest.mark.parametrize("unit", ["tanh", "hardsigmoid"])
def test_conv_net_trains_with_centered_ep(unit, float64):
    net = conv_net(unit)
    x, y = digits(16)
    cost = te.SquaredError()
    est = te.Centered(te.Relaxation(steps=40), beta=0.2)
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    losses, correct = [], []
    for _ in range(30):
        opt.zero_grad()
        g = est(net, cost, x, y)
        g.apply_(net)
        opt.step()
        losses.append(g.loss)
        correct.append(int((g.output.argmax(-1) == y).sum()))
    assert losses[-1] < 0.5 * losses[0], losses
    assert all(math.isfinite(v) for v in losses)
    assert correct[-1] > correct[0], correct


def _errors(estimator, net, cost, x, y, relax, ref):
    return [float((estimator(relax, beta=b)(net, cost, x, y).flat() - ref.flat()).norm())
            for b in BETAS]


def test_conv_net_ep_gradient_orders_at_a_settled_fixed_point(float64):
    net = conv_net("tanh")
    x, y = digits(8)
    cost = te.SquaredError()
    relax = te.Relaxation(steps=5000, tol=1e-13)
    ref = te.implicit_grad(net, cost, x, y, relax)
    assert ref.stats["residual"] < 1e-13
    assert float(ref.flat().norm()) > 0.1
    for estimator, order in ((te.OneSided, 1.0), (te.Centered, 2.0)):
        errs = _errors(estimator, net, cost, x, y, relax, ref)
        slopes = [math.log2(a / b) for a, b in zip(errs, errs[1:], strict=False)]
        assert all(abs(s - order) < 0.1 for s in slopes), (estimator.name, errs, slopes)
    bptt = te.bptt_grad(net, cost, x, y, relax)
    for k in ref:
        torch.testing.assert_close(bptt[k], ref[k], rtol=1e-8, atol=1e-10)

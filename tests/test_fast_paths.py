"""The kernels the samplers' speed rests on equal their plain definitions: the fused field
``matmul_add``, the field program ``Fields`` (column-major narrow matrices), ``fast_tanh``, and the
two ways two-valued units are drawn (one ``torch.bernoulli`` kernel, or a uniform comparison)."""

from __future__ import annotations

import math

import pytest
import torch

import thermoep as te
from tests.problems import generator
from thermoep.energies.interactions.dense import matmul_add, outer_sum
from thermoep.energies.laws import BernoulliLaw, fast_tanh
from thermoep.samplers.conditionals import BERNOULLI_KERNEL_MAX, Noise, draw_two_valued
from thermoep.samplers.fields import Fields


@pytest.mark.parametrize("lead, base_shape", [((5,), (7,)), ((5,), (1, 7)), ((3, 5), (7,)),
                                              ((3, 5), (1, 7)), ((2, 3, 5), (2, 3, 5, 7))])
def test_matmul_add_is_base_plus_product(lead, base_shape):
    g = generator(0)
    src, w = torch.randn(*lead, 4, generator=g), torch.randn(4, 7, generator=g)
    base = torch.randn(*base_shape, generator=g)
    out = matmul_add(base, src, w)
    torch.testing.assert_close(out, base + src @ w)
    assert out.shape == (*lead, 7)


def test_matmul_add_declines_what_one_addmm_cannot_do():
    g = generator(0)
    src, w = torch.randn(3, 5, 4, generator=g), torch.randn(4, 7, generator=g)
    assert matmul_add(torch.randn(5, 7, generator=g), src, w) is None  # a per-input base
    assert matmul_add(torch.randn(7, dtype=torch.float64), src, w) is None  # another dtype


@pytest.mark.parametrize("m, n", [(9, 3), (3, 9), (6, 6)])
@pytest.mark.parametrize("per_chain", [False, True])
def test_outer_sum_either_orientation(m, n, per_chain):
    g = generator(1)
    a, b = torch.randn(4, 5, m, generator=g), torch.randn(4, 5, n, generator=g)
    ref = torch.einsum("cbi,cbj->cij", a, b)
    torch.testing.assert_close(outer_sum(a, b, per_chain), ref if per_chain else ref.sum(0))


def test_fields_equal_the_energys_fields_with_narrow_matrices_column_major():
    torch.manual_seed(0)
    net = te.LayeredHopfield([6, 40, 3])
    x = torch.randn(5, 6)
    s = tuple(torch.randn(4, 5, n) for n in (40, 3))  # chains × batch
    rho = net.rhos(x, s)
    fields = Fields(net, net.constant_fields(x))
    narrow = [w for entries in fields.terms for w, *_ in entries if w is not None and
              w.shape[1] <= 3]
    assert narrow and all(w.stride(0) == 1 for w in narrow)  # the 40 × 3 matrix, column-major
    for k in range(net.num_layers):
        torch.testing.assert_close(fields(k, rho, s[k]), net.field(x, s, k, rho))


def test_fast_tanh_is_tanh():
    u = torch.linspace(-30.0, 30.0, 20001)
    assert (fast_tanh(u) - torch.tanh(u)).abs().max() <= 2e-7
    u64 = u.double()
    assert (fast_tanh(u64) - torch.tanh(u64)).abs().max() <= 1e-15
    assert fast_tanh(torch.zeros(3)).eq(0).all()
    assert fast_tanh(torch.tensor([-1e4, 1e4])).tolist() == [-1.0, 1.0]
    z = torch.tensor([0.3 + 0.2j])
    torch.testing.assert_close(fast_tanh(z), torch.tanh(z))  # complex: holomorphic EP
    v = torch.randn(10, dtype=torch.float64, requires_grad=True)  # no in-place under autograd
    (grad,) = torch.autograd.grad(fast_tanh(v).sum(), v)
    torch.testing.assert_close(grad, 1 - torch.tanh(v.detach()) ** 2)


@pytest.mark.parametrize("units", [8, BERNOULLI_KERNEL_MAX + 8])  # either draw
@pytest.mark.parametrize("low, high", [(0.0, 1.0), (-1.0, 1.0)])
@pytest.mark.parametrize("shared", [False, True])  # a shared Noise always takes uniforms
def test_two_valued_draws_follow_their_probabilities(units, low, high, shared):
    logit = torch.linspace(-3.0, 3.0, units, dtype=torch.float64)
    law = BernoulliLaw(logit, low, high)
    g, draws = generator(2), 4000
    hits = torch.zeros(units, dtype=torch.float64)
    for _ in range(draws):
        value, _ = draw_two_valued(law, None, Noise(g, shared=shared))
        assert set(value.unique().tolist()) <= {low, high} and value.dtype == torch.float64
        hits += value == high
    p = torch.sigmoid(logit)
    z = (hits / draws - p) / torch.sqrt(p * (1 - p) / draws)
    # the largest of `units` standard normals: 5 SE leaves a chance of < 3e-7 per unit
    assert z.abs().max() < 5.0, z.abs().max()
    assert math.isclose(float(z.mean()), 0.0, abs_tol=5.0 / math.sqrt(units))


def test_param_grad_mean_is_the_mean_of_its_lazy_per_chain_replicates(float64):
    """The input-linear terms' mean is one product over the chains' summed ρ; their per-chain
    products are taken only when read (the standard error): both agree with the plain mean of
    the replicates, and the estimator's standard error is that of the replicates."""
    net = te.LayeredHopfield([5, 4, 3], "tanh")
    cost, x, y = te.SquaredError(), torch.rand(6, 5, generator=generator(0)), \
        torch.tensor([0, 1, 2, 0, 1, 2])
    target = te.Target.of(net, cost, x, y, 0.0)
    sampler = te.Langevin(steps=8, burn_in=2, temperature=0.1, chains=3)
    phase = te.sample(sampler, target, observers=[te.observers.MeanParamGrad()],
                      generator=generator(1))
    stat = phase["param_grad"]
    assert set(stat.chains) == set(stat.mean) == {k for k, _ in net.named_parameters()}
    for k, v in stat.mean.items():
        assert stat.chains[k].shape == (3, *v.shape)
        torch.testing.assert_close(v, stat.chains[k].mean(0))
    est = te.FiniteNudge(te.Langevin(steps=8, burn_in=2, temperature=0.1, chains=3), beta=0.5)
    g = est(net, cost, x, y, generator=generator(2))
    free, nudged = g.phases[0.0]["param_grad"], g.phases[0.5]["param_grad"]
    for k in g.grads:
        reps = (nudged.chains[k] - free.chains[k]) / 0.5
        torch.testing.assert_close(g.grads[k], reps.mean(0))
        torch.testing.assert_close(g.stats["se"][k], reps.std(0) / math.sqrt(3))

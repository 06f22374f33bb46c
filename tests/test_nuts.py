"""The Pyro reference samplers (te.NUTS, te.HMC) against MALA and against closed forms.

Every comparison is a z-test with per-chain replicate standard errors, combined as
√(se_a² + se_b²), at 5 σ; each test also asserts that those errors are small against the compared
quantities, so it cannot pass vacuously. Budgets are small (the file runs in ~30 s on one core).
"""

import math

import pytest
import torch

import thermoep as te
from tests.problems import binary_problem, gaussian_problem, generator, hopfield_problem

T, B = 0.5, 0.5  # temperature and nudge of the Hopfield comparison


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny tensors: a second intra-op thread only adds synchronisation (several times slower on
    a busy 2-core machine)."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def _hopfield():
    net, cost, x, y = hopfield_problem((3, 4, 2), "tanh", batch=4, seed=0)
    x, yt = te.samplers.base.prepare(net, cost, x, y)
    return net, cost, x, y, yt


def _replicates(make, runs, net, cost, x, yt, seed):
    """``runs`` independent one-chain phases at nudge B: per-chain E_b[ℓ] (batch mean, from the
    cost trace) ``[R]`` and E_b[s_L] ``[R, batch, n_L]``."""
    costs, outputs = [], []
    for r in range(runs):
        ph = make().run(net, cost, x, yt, B, generator=generator(seed + r))
        costs.append(ph.trace["cost"].mean(1))  # [1]: time average of the batch-mean cost
        outputs.append(ph.output)
    return torch.cat(costs), torch.stack(outputs)


def _mean_se(reps):
    return reps.mean(0), reps.std(0) / math.sqrt(reps.shape[0])


def test_nuts_matches_mala_on_cost_and_output(float64):
    net, cost, x, _, yt = _hopfield()
    nuts = _replicates(lambda: te.NUTS(steps=180, burn_in=60, temperature=T, chains=1), 8,
                       net, cost, x, yt, seed=10)
    mala = _replicates(lambda: te.Langevin(step_size=0.3, steps=1500, burn_in=200, temperature=T,
                                           metropolis=True, chains=1), 8,
                       net, cost, x, yt, seed=100)
    for i, what in enumerate(["cost", "output"]):
        (m_n, se_n), (m_m, se_m) = _mean_se(nuts[i]), _mean_se(mala[i])
        se = (se_n**2 + se_m**2).sqrt()
        assert float(((m_n - m_m).abs() / se).max()) < 5, what
        assert float(se.max()) < 0.1 * float(m_m.abs().max()), what  # not vacuous
    assert float(_mean_se(nuts[0])[1]) < 0.02 * float(nuts[0].mean())


def test_nuts_finite_nudge_gradient_matches_mala(float64):
    net, cost, x, y, _ = _hopfield()
    g_n = te.FiniteNudge(te.NUTS(steps=180, burn_in=60, temperature=T, chains=12), B)(
        net, cost, x, y, generator=generator(1))
    g_m = te.FiniteNudge(te.Langevin(step_size=0.3, steps=2000, burn_in=200, temperature=T,
                                     metropolis=True, chains=32), B)(
        net, cost, x, y, generator=generator(2))
    se2 = {k: g_n.stats["se"][k] ** 2 + g_m.stats["se"][k] ** 2 for k in g_n}
    for k in g_n:
        assert float(((g_n[k] - g_m[k]).abs() / se2[k].sqrt()).max()) < 5, k
    norm = math.sqrt(sum(float((g_m[k] ** 2).sum()) for k in g_m))
    assert math.sqrt(sum(float(v.sum()) for v in se2.values())) < 0.25 * norm  # not vacuous
    for phase in ("free", "nudge+0.5"):  # the sampler's own diagnostics reach the Gradient
        assert 0.6 < g_n.stats[f"{phase}_acceptance"] <= 1.0
        assert g_n.stats[f"{phase}_divergences"] == 0.0
        assert 0.95 < g_n.stats[f"{phase}_rhat"] < 1.05


@pytest.mark.parametrize("sampler", [
    te.NUTS(steps=300, burn_in=100, temperature=0.4, chains=6),
    te.HMC(steps=600, burn_in=100, temperature=0.4, chains=6, num_steps=8),
], ids=["nuts", "hmc"])
def test_gaussian_cost_matches_closed_form(sampler, float64):
    energy, cost, x, y = gaussian_problem(seed=1)
    b, temp = 0.8, sampler.temperature
    y = te.samplers.base.prepare(energy, cost, x, y)[1]
    with torch.no_grad():  # targets near the free mean, so that ½ tr Σ_b (the part that
        yt = energy.moments(x, y, 0.0, temp)[0] + 0.3 * y  # carries T) weighs in E_b[ℓ]
    ph = sampler.run(energy, cost, x, yt, b, generator=generator(3))
    per_chain = ph.trace["cost"].mean(1)
    m, se = float(per_chain.mean()), float(per_chain.std() / math.sqrt(len(per_chain)))

    def closed_form(t):  # E_b[ℓ] = ½(‖μ_b − y‖² + tr Σ_b), batch mean
        mean, cov = energy.moments(x, yt, b, t)
        return float((0.5 * (((mean - yt) ** 2).sum(-1) + torch.trace(cov))).mean())

    with torch.no_grad():
        exact, wrong = closed_form(temp), closed_form(temp / 2)
    assert abs(m - exact) < 5 * se
    assert abs(wrong - exact) > 10 * se  # not vacuous: the test would see a wrong temperature
    assert ph.chains == 6 and ph.trace["cost"].shape == (6, sampler.num_samples)


def test_binary_units_raise_type_error():
    bm, cost, x, y = binary_problem()
    yt = te.samplers.base.prepare(bm, cost, x, y)[1]
    for sampler in (te.NUTS(steps=10, burn_in=5), te.HMC(steps=10, burn_in=5)):
        with pytest.raises(TypeError, match="Gibbs"):
            sampler.run(bm, cost, x, yt, 0.0)


def test_same_generator_same_samples_and_global_streams_untouched(float64):
    net, cost, x, _, yt = _hopfield()
    s = te.NUTS(steps=12, burn_in=4, temperature=T, chains=2, thin=3)
    torch.manual_seed(0)
    a = s.run(net, cost, x, yt, B, generator=generator(7))
    after = torch.rand(1)
    torch.manual_seed(0)
    expected = torch.rand(1)
    b = s.run(net, cost, x, yt, B, generator=generator(7))
    assert torch.equal(a.trace["cost"], b.trace["cost"])
    assert torch.equal(after, expected)  # Pyro's seeding did not leak into the global stream
    assert a.trace["cost"].shape == (2, s.num_samples) == (2, 3)
    assert a.state[-1].shape == (2, 4, 2)


def test_arguments_are_validated():
    assert te.SAMPLERS["nuts"] is te.NUTS and te.SAMPLERS["hmc"] is te.HMC
    with pytest.raises(ValueError, match="burn_in"):
        te.NUTS(steps=10, burn_in=10)
    with pytest.raises(ValueError, match="max_tree_depth"):
        te.NUTS(max_tree_depth=0)
    with pytest.raises(ValueError, match="num_steps"):
        te.HMC(num_steps=0)
    with pytest.raises(ValueError, match="step_size"):
        te.HMC(step_size=-0.1)

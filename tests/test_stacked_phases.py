"""Coupled phases as one tensor program (Target.stacked, samplers.loop.sample_stacked): the same
initial state and random draws as running the phases one after the other, so every estimate is
the sequential one to rounding."""

import pytest
import torch

import thermoep as te
from thermoep.samplers.base import Target
from thermoep.samplers.loop import sample, sample_stacked


def _problem():
    torch.manual_seed(0)
    net = te.LayeredHopfield([6, 5, 3], "tanh").double()
    x = torch.randn(4, 6, dtype=torch.float64)
    y = torch.randint(0, 3, (4,))
    return net, te.SquaredError(), x, y


def _sequential(sampler):
    """The same sampler, made to run each phase on its own."""
    sampler.stacks_nudges = False
    return sampler


@pytest.mark.parametrize("metropolis", [False, True])
@pytest.mark.parametrize("kind", ["finite", "path", "centered-objective"])
def test_stacked_phases_equal_sequential_phases(kind, metropolis):
    net, cost, x, y = _problem()

    def estimator(sampler):
        if kind == "finite":
            return te.FiniteNudge(sampler, 0.5)
        if kind == "path":
            return te.PathIntegral(sampler, 0.5, nodes=2)
        return te.FiniteNudge(sampler, 0.5, objective_nodes=2)

    def langevin():
        return te.Langevin(step_size=0.05, steps=12, burn_in=4, temperature=0.05, chains=3,
                           coupled=True, metropolis=metropolis)

    a = estimator(langevin())(net, cost, x, y, generator=torch.Generator().manual_seed(3))
    b = estimator(_sequential(langevin()))(net, cost, x, y,
                                           generator=torch.Generator().manual_seed(3))
    for k in a.grads:
        torch.testing.assert_close(a.grads[k], b.grads[k], rtol=1e-9, atol=1e-12)
    assert set(a.phases) == set(b.phases)
    for nudge in a.phases:
        assert sorted(a.phases[nudge].observed) == sorted(b.phases[nudge].observed)
        for name, value in a.phases[nudge].observed.items():
            if torch.is_tensor(value):
                torch.testing.assert_close(value, b.phases[nudge].observed[name], rtol=1e-9,
                                           atol=1e-12)
        for key in ("steps", "samples", "chains"):
            assert a.phases[nudge].info[key] == b.phases[nudge].info[key]
    if metropolis:
        assert a.phases[0.0].info["acceptance"] == pytest.approx(
            b.phases[0.0].info["acceptance"], abs=1e-12)
    if kind == "centered-objective":
        assert a.stats["objective"] == pytest.approx(b.stats["objective"], rel=1e-9)


def test_stacked_phases_share_the_noise_and_the_start():
    """Every phase of a stacked run starts from the same state and draws the same noise: at
    b = b' the phases are identical."""
    net, cost, x, y = _problem()
    target = Target.of(net, cost, x, y).stacked([0.3, 0.3])
    sampler = te.Langevin(step_size=0.05, steps=6, burn_in=2, temperature=0.05, chains=2)
    phases = sample_stacked(sampler, target, [[te.observers.OutputMean()] for _ in range(2)],
                            generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(phases[0].output, phases[1].output, rtol=0, atol=0)
    alone = sample(sampler, Target.of(net, cost, x, y, 0.3),
                   observers=[te.observers.OutputMean()],
                   generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(phases[0].output, alone.output, rtol=1e-10, atol=1e-12)


def test_stacked_sampling_refuses_what_it_cannot_run():
    net, cost, x, y = _problem()
    target = Target.of(net, cost, x, y).stacked([0.0, 0.5])
    with pytest.raises(TypeError, match="stacks_nudges"):
        sample_stacked(te.Relaxation(), target, [[], []])
    with pytest.raises(ValueError, match="one observer list per nudge"):
        sample_stacked(te.Langevin(), target, [[]])

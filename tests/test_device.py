"""Device-generic tests: the same computations on ``$THERMOEP_TEST_DEVICE`` (default cpu) as on
the CPU in float64. ``benchmarks/gpu_check.py`` runs this file with ``THERMOEP_TEST_DEVICE=cuda``
on a machine with a GPU; CI runs it on the CPU, so the code paths cannot rot unseen."""

import os

import pytest
import torch

import thermoep as te
from thermoep.energies.architectures import ENERGIES

DEVICE = torch.device(os.environ.get("THERMOEP_TEST_DEVICE", "cpu"))
if DEVICE.type == "cuda" and not torch.cuda.is_available():
    pytest.skip("THERMOEP_TEST_DEVICE=cuda but CUDA is not available", allow_module_level=True)


def _pair(make, seed=0):
    """The same energy on the CPU (float64) and on DEVICE (float32)."""
    torch.manual_seed(seed)
    ref = make().double()
    dev = make().to(DEVICE)
    dev.load_state_dict({k: v.float() for k, v in ref.state_dict().items()})
    return ref, dev


ARCHITECTURES = {
    "mlp": lambda: te.LayeredHopfield([12, 16, 4], "tanh"),
    "dchn": lambda: ENERGIES["dchn"]((1, 8, 8), 4, channels=(4, 6)),
    "looped": lambda: ENERGIES["looped-mlp"]((12,), 4, hidden=10, spectral_norm=False),
}


@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
def test_fields_gradients_and_relaxation_agree_with_the_cpu(name):
    ref, dev = _pair(ARCHITECTURES[name])
    g = torch.Generator().manual_seed(1)
    x = torch.rand(5, ref.input_size, generator=g, dtype=torch.float64)
    y = torch.randint(0, 4, (5,), generator=g)
    cost = te.SquaredError()
    relax = te.Relaxation(steps=60, step_size=0.5)
    a = te.Centered(relax, 0.2)(ref, cost, x, y)
    b = te.Centered(relax, 0.2)(dev, cost, x.float().to(DEVICE), y.to(DEVICE))
    for k in a:
        assert b[k].device.type == DEVICE.type
        torch.testing.assert_close(b[k].double().cpu(), a[k], atol=2e-4, rtol=2e-3)
    s = tuple(t.to(DEVICE) for t in b.phases[0.0].state)
    xd = dev.check_input(x.float().to(DEVICE))
    torch.testing.assert_close(dev.energy(xd, s).double().cpu(),
                               ref.energy(ref.check_input(x), tuple(t.double().cpu()
                                                                    for t in s)),
                               atol=1e-4, rtol=1e-4)


def test_monte_carlo_phases_run_on_the_device_and_are_seeded():
    torch.manual_seed(0)
    bm = te.LayeredBoltzmann([6, 5, 3]).to(DEVICE)
    x = torch.randint(0, 2, (4, 6)).float().to(DEVICE)
    y = torch.tensor([0, 1, 2, 0], device=DEVICE)
    gen = lambda: torch.Generator(device=DEVICE).manual_seed(3)  # noqa: E731
    est = te.PathIntegral(te.Gibbs(sweeps=60, burn_in=10, chains=8), 1.0, nodes=2)
    a, b = est(bm, te.SquaredError(), x, y, generator=gen()), est(bm, te.SquaredError(), x, y,
                                                                   generator=gen())
    for k in a:
        assert a[k].device.type == DEVICE.type and torch.equal(a[k], b[k])
    net = te.LayeredHopfield([6, 8, 3]).to(DEVICE)
    g = te.FiniteNudge(te.Langevin(steps=20, burn_in=5, chains=4, metropolis=True), 1.0)(
        net, te.SquaredError(), x, y, generator=gen())
    assert all(torch.isfinite(v).all() for v in g.values())
    assert 0.0 < g.stats["free_acceptance"] <= 1.0


def test_training_steps_on_the_device():
    from thermoep.config import RunConfig
    from thermoep.experiment import run

    ds = run(RunConfig.of(epochs=1, limit_train=64, limit_test=32, hidden=[8],
                          device=str(DEVICE)), quiet=True)
    assert 0.0 <= float(ds["test_accuracy"][-1]) <= 1.0

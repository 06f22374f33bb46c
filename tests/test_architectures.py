"""The named architectures (the model registry), holomorphic EP and reduced-precision relaxation.

References: implicit differentiation at the settled fixed point (holomorphic EP's bias falls as
β^N), the seeds' update rules written out by hand (the recurrent models' damped map), float32
runs (reduced precision).
"""

import math

import pytest
import torch
from torch.nn.utils import parametrize
from typer.testing import CliRunner

import thermoep as te
from tests.problems import hopfield_problem
from thermoep import results
from thermoep.cli import app
from thermoep.energies.architectures import ENERGIES
from thermoep.lipschitz import relaxation_lipschitz

SHAPES = {"dchn": (1, 28, 28), "laborieux-cnn": (3, 32, 32), "hybrid-ep-cnn": (3, 32, 32)}


@pytest.mark.parametrize("name", sorted(ENERGIES))
def test_every_architecture_builds_and_has_consistent_gradients(name, float64):
    torch.manual_seed(0)
    inputs = SHAPES.get(name, (12,))
    small = {"dchn": dict(channels=(3, 4)), "laborieux-cnn": dict(channels=(2, 3, 2, 2)),
             "hybrid-ep-cnn": dict(channels=(2, 3, 2))}.get(name, {})
    if name in ("hopfield", "prototypical", "boltzmann"):
        small = dict(hidden=(5,))
    elif name not in SHAPES:
        small = dict(hidden=6)
    energy = ENERGIES[name](inputs, 3, **small).eval()  # (spectral norm: one weight)
    x = torch.rand(2, math.prod(inputs))
    s = tuple((0.1 + 0.8 * torch.rand(2, *shape)).requires_grad_()
              for shape in energy.layer_shapes)
    if energy.discrete:
        s = tuple(t.detach().round().requires_grad_() for t in s)
    e = energy.energy(energy.check_input(x), s)
    auto = torch.autograd.grad(e.sum(), s)
    for a, b in zip(energy.state_grad(energy.check_input(x), s), auto, strict=True):
        torch.testing.assert_close(a, b)
    assert energy.layer_sizes[energy.output] == 3


def test_conv_chains_have_the_papers_shapes():
    labo = ENERGIES["laborieux-cnn"]((3, 32, 32), 10)
    assert labo.layer_shapes == ((128, 16, 16), (256, 8, 8), (512, 4, 4), (512, 2, 2), (10,))
    hyb = ENERGIES["hybrid-ep-cnn"]((3, 32, 32), 10)
    assert hyb.layer_shapes == ((32, 16, 16), (64, 8, 8), (128, 4, 4), (10,))
    dchn = ENERGIES["dchn"]((28, 28), 10)  # grayscale images get a channel
    assert dchn.layer_shapes == ((32, 14, 14), (64, 7, 7), (10,))
    assert dchn.layer_blocks == ((0, 2), (1,))  # even/odd: the asynchronous relaxation
    with pytest.raises(ValueError, match="image inputs"):
        ENERGIES["dchn"]((784,), 10)


@pytest.mark.parametrize("name", ["looped-mlp", "toroidal-mlp", "modern-eqprop"])
def test_recurrent_models_relax_by_the_seeds_damped_map(name, float64):
    """h ← (1 − γ)h + γ tanh(field): one relaxation step with step size γ, every weight
    spectrally normalised (σ_max = 1)."""
    torch.manual_seed(1)
    energy = ENERGIES[name]((10,), None, hidden=8)  # a read-out cost: the energy ends with h
    assert [layer.name for layer in energy.free_layers] == ["h"]
    for key, term, _ in energy.terms():
        if parametrize.is_parametrized(term, "weight"):
            w = term.weight.detach()
            w = w if w.dim() == 2 else w.reshape(w.shape[0], -1)
            assert float(torch.linalg.matrix_norm(w, 2)) == pytest.approx(1.0, rel=0.05), key
    energy.eval()  # one effective weight (no power iteration between the two computations)
    cost = te.SoftmaxReadout(8, 3)
    x, y = torch.rand(4, 10), torch.tensor([0, 1, 2, 0])
    h0 = (0.5 * torch.rand(4, 8) - 0.25,)
    gamma = 0.5
    s, _, _ = te.Relaxation(steps=1, step_size=gamma).settle(
        energy, cost, energy.check_input(x), cost.target(y, 8, dtype=torch.float64,
                                                        device="cpu"), 0.0, init=h0)
    field = energy.field(energy.check_input(x), h0, 0)
    torch.testing.assert_close(s[0], (1 - gamma) * h0[0] + gamma * torch.tanh(field))
    L = relaxation_lipschitz(energy, cost, x, y, te.Relaxation(steps=200, step_size=gamma))[0]
    assert float(L.max()) < 1.0  # spectral normalisation and damping: a contraction


def test_an_architecture_trains_from_the_command_line(tmp_path):
    out = tmp_path / "c.nc"
    r = CliRunner().invoke(app, ["train", "--energy", "dchn", "--set", "model.channels=[4]",
                                 "--epochs", "1", "--limit-train", "64", "--limit-test", "32",
                                 "--steps", "8", "--nudged-steps", "4", "--step-size", "1.0",
                                 "--quiet", "--out", str(out)])
    assert r.exit_code == 0, r.output
    ds = results.load(out)
    assert ds.attrs["energy"] == "dchn" and ds.attrs["model.activation"] == "hardsigmoid"
    r = CliRunner().invoke(app, ["train", "--energy", "looped-mlp", "--set", "model.hidden=16",
                                 "--energy", "looped-mlp", "--epochs", "1", "--limit-train",
                                 "64", "--limit-test", "32", "--lipschitz", "--quiet", "--out",
                                 str(tmp_path / "l.nc")])
    assert r.exit_code == 0, r.output
    assert float(results.load(tmp_path / "l.nc")["lipschitz"][-1]) > 0


# -- holomorphic EP ------------------------------------------------------------------------------

def test_holomorphic_ep_error_falls_geometrically_with_the_points(float64):
    """Bias O(β^N): at β = 0.3 each extra point on the circle divides the error by ~2 (measured
    0.15, 0.055, 0.031, 0.015, 0.0058 for N = 2..6), and N = 2 is centered EP exactly."""
    net, cost, x, y = hopfield_problem(seed=3)
    relax = te.Relaxation(steps=5000, step_size=0.5, tol=1e-13)
    ref = te.implicit_grad(net, cost, x, y, relax).flat()
    errors = []
    for n in (2, 3, 4, 5, 6, 8):
        g = te.HolomorphicEP(relax, 0.3, points=n)(net, cost, x, y)
        assert g.nudged_phases == n and not g.flat().is_complex()
        errors.append(float((g.flat() - ref).norm() / ref.norm()))
    for a, b in zip(errors, errors[1:], strict=False):
        assert b < 0.8 * a
    assert errors[-1] < errors[0] / 50
    centered = te.Centered(relax, 0.3)(net, cost, x, y).flat()
    torch.testing.assert_close(te.HolomorphicEP(relax, 0.3, points=2)(net, cost, x, y).flat(),
                               centered)


def test_holomorphic_ep_refuses_what_is_not_holomorphic():
    relax = te.Relaxation(steps=10)
    net, cost, x, y = hopfield_problem(activation="hardsigmoid")
    with pytest.raises(TypeError, match="holomorphic units.*hardsigmoid"):
        te.HolomorphicEP(relax, 0.1, points=3)(net, cost, x, y)
    with pytest.raises(TypeError, match="holomorphic units.*hardsigmoid"):
        te.HolomorphicEP(relax, 0.1, points=3).check(net, cost)
    bm = te.LayeredBoltzmann([3, 4, 2])
    with pytest.raises(TypeError, match="discrete units"):
        te.HolomorphicEP(relax, 0.1).check(bm, cost)
    with pytest.raises(TypeError, match="needs the relaxation"):
        te.HolomorphicEP(te.Langevin(), 0.1)


# -- reduced precision ---------------------------------------------------------------------------

@pytest.mark.parametrize("precision", ["bfloat16", "float16"])
def test_reduced_precision_relaxation_keeps_float32_gradients(precision):
    torch.manual_seed(0)
    net = ENERGIES["dchn"]((8, 8), 10, channels=(4,))
    x, y = torch.rand(16, 64), torch.randint(0, 10, (16,))
    full = te.Centered(te.Relaxation(steps=30, step_size=1.0), 0.2)(net, te.SquaredError(), x, y)
    try:
        half = te.Centered(te.Relaxation(steps=30, step_size=1.0, precision=precision), 0.2)(
            net, te.SquaredError(), x, y)
    except RuntimeError as exc:  # float16 convolutions on a CPU without kernels for them
        pytest.skip(f"{precision} not supported on this device: {exc}")
    assert all(v.dtype == torch.float32 for v in half.values())
    assert half.phases[0.0].state[0].dtype == torch.float32
    assert half.cosine(full) > 0.99
    with pytest.raises(ValueError, match="precision must be"):
        te.Relaxation(precision="int8")

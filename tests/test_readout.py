"""SoftmaxReadout: a trained linear softmax read-out of the last layer, outside the energy
(Laborieux et al. 2021). Its gradients against autograd; every EP stencil against implicit
differentiation (readout parameters included) with the stencil's bias order; BPTT = implicit;
the estimators that cannot train it say so; training and checkpoints carry its parameters."""

import math

import pytest
import torch

import thermoep as te
from tests.problems import generator
from thermoep.config import RunConfig
from thermoep.experiment import build, run

BETAS = (0.01, 0.005, 0.0025)
QUICK = dict(dataset="digits", limit_train=128, limit_test=64, batch_size=32, hidden=(12,),
             energy="prototypical", cost="softmax-readout", estimator="centered", beta=0.1,
             steps=15, nudged_steps=6, optimizer="sgd", lr=0.2, dtype="float64")


def readout_problem(energy_cls=te.PrototypicalHopfield, sizes=(5, 6, 4), classes=3, batch=4,
                    seed=0):
    torch.manual_seed(seed)
    net = energy_cls(list(sizes), "tanh")
    cost = te.SoftmaxReadout(sizes[-1], classes)
    g = generator(seed + 1)
    x = torch.randn(batch, sizes[0], generator=g).to(net.dtype)
    y = torch.randint(0, classes, (batch,), generator=g)
    return net, cost, x, y


def test_gradients_match_autograd(float64):
    net, cost, x, y = readout_problem()
    yt = cost.target(y, 4, dtype=torch.float64, device="cpu")
    out = torch.randn(2, 4, 4, requires_grad=True)  # [chains, batch, n_L]
    ell = cost.value(out, yt)
    g_out, g_w, g_b = torch.autograd.grad(ell.sum(), [out, cost.weight, cost.bias])
    torch.testing.assert_close(cost.grad(out.detach(), yt), g_out)
    pg = cost.param_grad(out.detach(), yt)
    torch.testing.assert_close(pg["readout.weight"], g_w)
    torch.testing.assert_close(pg["readout.bias"], g_b)
    # the prediction is the logits; ℓ is their cross-entropy
    z = cost.predict(out.detach()[0])
    torch.testing.assert_close(ell[0].detach(), torch.nn.functional.cross_entropy(
        z, y, reduction="none"))
    assert set(cost.named_trainables()) == {"readout.weight", "readout.bias"}
    assert cost.curvature is None  # ℓ grows linearly in s_L: every nudge has an equilibrium


def test_reads_the_last_layer_of_the_energy():
    with pytest.raises(ValueError, match="reads 5 units but the energy's last layer has 4"):
        te.SoftmaxReadout(5, 3).target(torch.tensor([0, 1]), 4, dtype=torch.float32,
                                       device="cpu")
    with pytest.raises(ValueError, match=r"class labels must lie in \[0, 2\]"):
        te.SoftmaxReadout(4, 3).target(torch.tensor([0, 3]), 4, dtype=torch.float32,
                                       device="cpu")


def _errors(est_cls, net, cost, x, y, relax, ref, **kw):
    return [float((est_cls(relax, beta=b, **kw)(net, cost, x, y).flat() - ref).norm())
            for b in BETAS]


def _slopes(errs):
    return [math.log(errs[i] / errs[i + 1]) / math.log(2) for i in range(len(errs) - 1)]


@pytest.mark.parametrize("energy_cls", [te.PrototypicalHopfield, te.LayeredHopfield])
def test_stencils_train_the_readout_with_their_bias_order(energy_cls, float64):
    """G(b) = ∂θ(E + bℓ)(s*_b): one-sided O(β), centered O(β²), 5-point stencil O(β⁴), on θ
    and φ together, against ∇ mean ℓ(s*_0) by implicit differentiation."""
    net, cost, x, y = readout_problem(energy_cls, seed=3)
    relax = te.Relaxation(steps=5000, tol=1e-13,
                          step_size=0.5 if energy_cls is te.LayeredHopfield else None)
    imp = te.implicit_grad(net, cost, x, y, relax)
    assert {"readout.weight", "readout.bias"} <= set(imp)
    assert float(imp["readout.weight"].norm()) > 1e-3
    ref = imp.flat()
    for s in _slopes(_errors(te.OneSided, net, cost, x, y, relax, ref)):
        assert s == pytest.approx(1.0, abs=0.05)
    for s in _slopes(_errors(te.Centered, net, cost, x, y, relax, ref)):
        assert s == pytest.approx(2.0, abs=0.05)
    # the higher-order stencil: error O(β⁴) until the relaxation's 1e-13 floor
    errs = _errors(te.HigherOrder, net, cost, x, y, relax, ref)
    assert errs[0] < 1e-6 and errs[0] / errs[1] > 8.0
    # the readout's own part, one-sided: ∂φℓ at s*_β (not at the free state)
    g = te.OneSided(relax, beta=0.01)(net, cost, x, y)
    yt = cost.target(y, net.layer_sizes[-1], dtype=x.dtype, device="cpu")
    s_b, _, _ = relax.settle(net, cost, x, yt, 0.01)
    want = cost.param_grad(s_b[-1], yt)["readout.weight"] / x.shape[0]
    torch.testing.assert_close(g["readout.weight"], want)


def test_bptt_and_backprop_match_implicit_differentiation(float64):
    net, cost, x, y = readout_problem(sizes=(5, 7, 6), classes=4, seed=5)
    relax = te.Relaxation(steps=5000, tol=1e-13)
    imp = te.implicit_grad(net, cost, x, y, relax)
    bptt = te.bptt_grad(net, cost, x, y, te.Relaxation(steps=600))
    bp = te.Backprop(te.Relaxation(steps=600))(net, cost, x, y)
    assert set(bptt) == set(imp) == set(bp)
    for k in imp:
        torch.testing.assert_close(bptt[k], imp[k], atol=1e-9, rtol=1e-7)
        torch.testing.assert_close(bp[k], imp[k], atol=1e-9, rtol=1e-7)


def test_what_cannot_train_the_readout_says_so():
    net, cost, x, y = readout_problem(te.LayeredHopfield)
    lang = te.Langevin(step_size=0.1, steps=4, burn_in=1, temperature=0.01, chains=2)
    with pytest.raises(TypeError, match="Monte-Carlo samplers do not estimate"):
        te.FiniteNudge(lang, beta=1.0)(net, cost, x, y)
    with pytest.raises(TypeError, match="no output layer to clamp"):
        te.ContrastiveLearning(te.Relaxation())(net, cost, x, y)
    bm = te.LayeredBoltzmann([3, 2, 4])
    with pytest.raises(TypeError, match="has parameters of its own"):
        te.exact.grad_J(bm, cost, torch.ones(2, 3), torch.tensor([0, 1]))
    g = te.Centered(te.Relaxation(), beta=0.1)(net, cost, x, y)
    with pytest.raises(ValueError, match=r"g.apply_\(model, cost\)"):
        g.apply_(net)
    g.apply_(net, cost)
    assert cost.weight.grad is not None
    deterministic = {k: v for k, v in QUICK.items() if k != "nudged_steps"}
    for bad in (dict(estimator="finite-nudge"), dict(estimator="contrastive"),
                dict(sampler="langevin", energy="hopfield", temperature=0.01)):
        with pytest.raises(TypeError, match="parameters of its own|no output layer to clamp"):
            build(RunConfig.of(**{**deterministic, **bad}))


def test_training_updates_and_checkpoints_the_readout(tmp_path):
    cfg = RunConfig.of(epochs=2, **QUICK)
    whole = run(cfg, out=tmp_path / "w.nc", checkpoint_every=1, keep_checkpoints=True,
                quiet=True)
    from thermoep import checkpoints
    from thermoep.diagnostics.checkpoints import load_model
    from thermoep.experiment import epoch_checkpoint

    first = checkpoints.load(epoch_checkpoint(tmp_path / "w.ckpt", 1))
    last = checkpoints.load(tmp_path / "w.ckpt")
    assert set(last["cost"]) == {"weight", "bias"}
    assert not torch.equal(first["cost"]["weight"], last["cost"]["weight"])  # it is trained
    loaded = load_model(tmp_path / "w.ckpt")
    torch.testing.assert_close(loaded.cost.weight.detach(), last["cost"]["weight"])
    # resumed from epoch 1, the run repeats the uninterrupted one exactly
    ckpt = tmp_path / "r.ckpt"
    ckpt.write_bytes(epoch_checkpoint(tmp_path / "w.ckpt", 1).read_bytes())
    resumed = run(cfg, out=tmp_path / "r.nc", checkpoint=ckpt, checkpoint_every=1,
                  resume=True, quiet=True)
    for v in ("test_accuracy", "train_loss"):
        assert resumed[v].values.tolist() == whole[v].values.tolist(), v
    loss = whole["train_loss"].values
    assert loss[1] < loss[0] - 0.1  # it learns (cross-entropy starts at log 10 ≈ 2.30)


def test_cli_trains_the_readout_and_diagnoses_its_checkpoints(tmp_path):
    """`thermoep train --cost softmax-readout`, then cosine of std/cep with BPTT over training
    from its per-epoch checkpoints (the read-out's parameters included)."""
    import xarray as xr
    from typer.testing import CliRunner

    from thermoep.cli import app

    runner = CliRunner()
    out = tmp_path / "ro.nc"
    r = runner.invoke(app, ["train", "--epochs", "2", "--limit-train", "200", "--limit-test",
                            "100", "--hidden", "16", "--quiet", "--energy", "prototypical",
                            "--cost", "softmax-readout", "--estimator", "centered", "--beta",
                            "0.1", "--optimizer", "sgd", "--lr", "0.1", "--out", str(out),
                            "--checkpoint-every", "1", "--keep-checkpoints"])
    assert r.exit_code == 0, r.output
    with xr.open_dataset(out) as ds:
        assert ds.attrs["model.cost"] == "softmax-readout"
        assert float(ds["train_loss"][1]) < float(ds["train_loss"][0])
    r = runner.invoke(app, ["diagnose", "alignment", "--checkpoints", str(tmp_path),
                            "--batch", "32", "--out", str(tmp_path / "al.nc")])
    assert r.exit_code == 0, r.output
    with xr.open_dataset(tmp_path / "al.nc") as al:
        cos = al["cos_bptt"].values
        assert cos.size and float(cos.min()) > 0.9
    r = runner.invoke(app, ["train", "--quiet", "--cost", "softmax-readout", "--estimator",
                            "contrastive", "--out", str(tmp_path / "x.nc")])
    assert r.exit_code != 0 and "no output layer to clamp" in r.output.replace("\n", " ")

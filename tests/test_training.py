"""The training loop, checkpoints and the kill-and-resume guarantee."""

import os
import signal
import subprocess
import sys
import time

import pytest
import torch
import xarray as xr

import thermoep as te
from thermoep import results
from thermoep.config import RunConfig
from thermoep.data import load_dataset
from thermoep.experiment import run
from thermoep.training import TrainingDiverged, evaluate, fit

QUICK = dict(limit_train=300, limit_test=120, hidden=(32,), batch_size=50)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_fit_learns_digits(optimizer):
    data = load_dataset("digits", limit_train=600, limit_test=200)
    torch.manual_seed(0)
    net = te.LayeredHopfield([64, 64, 10])
    est = te.Centered(te.Relaxation(steps=15, nudged_steps=8), beta=0.2)
    opt = (torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)
           if optimizer == "sgd" else torch.optim.Adam(net.parameters(), lr=3e-3))
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=4)
    hist = fit(net, te.SquaredError(), est, opt, data, epochs=4, batch_size=32, scheduler=sched,
               generator=torch.Generator().manual_seed(0))
    assert len(hist) == 4
    assert hist[-1]["test_accuracy"] > 0.8  # chance is 0.1
    assert hist[-1]["nudged_phases"] == 2 * 4 * 19  # two per batch, 19 batches per epoch
    assert hist[-1]["lr"] < hist[0]["lr"]  # cosine schedule
    assert hist[-1]["residual"] >= 0


def test_linear_warmup_scales_the_first_updates():
    """With a constant gradient of ones and plain SGD (lr 1), warm-up over 4 batches moves every
    parameter by −(1 + 2 + 3 + 4)/4 in the first epoch instead of −4, then −4 per epoch."""
    data = load_dataset("digits", limit_train=40, limit_test=10)
    net = te.LayeredHopfield([64, 3, 10])

    class Ones:
        sampler = te.Relaxation(steps=2)
        beta = 0.1

        def __call__(self, model, cost, x, y, *, generator=None):
            grads = {k: torch.ones_like(v) for k, v in model.named_parameters()}
            return te.Gradient(grads, 1, {}, loss=0.0, output=torch.zeros(len(y), 10))

    start = {k: v.detach().clone() for k, v in net.named_parameters()}
    opt = torch.optim.SGD(net.parameters(), lr=1.0)
    hist = fit(net, te.SquaredError(), Ones(), opt, data, epochs=2, batch_size=10,
               generator=torch.Generator().manual_seed(0), warmup_batches=4)
    for k, v in net.named_parameters():
        torch.testing.assert_close(v.detach(), start[k] - 2.5 - 4.0)
    assert hist[0]["lr"] == 1.0  # the group's learning rate is restored after each warm step


def test_evaluate_uses_chain_average_at_positive_temperature():
    data = load_dataset("digits", limit_train=10, limit_test=50)
    torch.manual_seed(0)
    net = te.LayeredHopfield([64, 16, 10])
    lang = te.Langevin(step_size=0.3, steps=20, burn_in=5, temperature=0.01, chains=3)
    acc, loss = evaluate(net, te.SquaredError(), lang, data.test_x, data.test_y,
                         generator=torch.Generator().manual_seed(0))
    assert 0.0 <= acc <= 1.0 and loss > 0


def test_run_is_deterministic_and_writes_schema(tmp_path):
    cfg = RunConfig.of(epochs=2, **QUICK)
    a = run(cfg, out=tmp_path / "a.nc", quiet=True)
    b = run(cfg, quiet=True)
    for v in ("test_accuracy", "train_loss", "train_accuracy"):
        assert a[v].values.tolist() == b[v].values.tolist()
    ds = xr.open_dataset(tmp_path / "a.nc")
    assert ds["test_accuracy"].dims == ("epoch",)
    for v in ("train_accuracy", "test_accuracy", "train_loss", "nudged_phases", "wall_seconds"):
        assert v in ds
    assert results.config_of(ds)["estimator"]["name"] == "centered"
    assert ds.attrs["thermoep_version"] == te.__version__
    ds.close()


def test_divergence_is_reported_with_its_position():
    cfg = RunConfig.of(epochs=2, optimizer="sgd", lr=1e30, momentum=0.0, **QUICK)
    with pytest.raises(TrainingDiverged, match=r"epoch 1, batch \d+"):
        run(cfg, quiet=True)


def test_kill_and_resume_reproduces_the_uninterrupted_run(tmp_path):
    """Kill a real training subprocess after its first checkpoint, resume it, and compare with
    an uninterrupted run of the same seed."""
    args = ["--estimator", "finite-nudge", "--beta", "1.0", "--epochs", "6",
            "--limit-train", "400", "--limit-test", "100", "--hidden", "32", "--seed", "5",
            "--checkpoint-every", "1", "--quiet"]
    cmd = [sys.executable, "-m", "thermoep", "train", *args]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    out = tmp_path / "killed.nc"
    ckpt = tmp_path / "killed.ckpt"
    proc = subprocess.Popen([*cmd, "--out", str(out)], env=env)
    deadline = time.time() + 120
    while not ckpt.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "training finished before it could be killed"
    assert not out.exists()  # no partial results file
    done_before = te.checkpoints.load(ckpt)["epoch"]
    assert 1 <= done_before < 6
    subprocess.run([*cmd, "--out", str(out), "--resume"], env=env, check=True)
    whole = tmp_path / "whole.nc"
    subprocess.run([*cmd, "--out", str(whole)], env=env, check=True)
    a, b = results.load(out), results.load(whole)
    for v in ("train_accuracy", "test_accuracy", "train_loss", "test_loss", "nudged_phases"):
        assert a[v].values.tolist() == b[v].values.tolist(), v


def _train(est, seed=0):
    data = load_dataset("digits", limit_train=200, limit_test=50)
    torch.manual_seed(seed)
    net = te.PrototypicalHopfield([64, 16, 10])
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    hist = fit(net, te.SquaredError(), est, opt, data, epochs=2, batch_size=25,
               generator=torch.Generator().manual_seed(seed))
    return net, hist


def test_strategies_share_the_batch_order():
    """The hybrid's coin has its own stream: a hybrid that always picks one-sided trains exactly
    like one-sided EP with the same seed (common random numbers across strategies)."""
    relax = te.Relaxation(steps=15, nudged_steps=6)
    a, ha = _train(te.OneSided(relax, 0.1))
    b, hb = _train(te.Hybrid(relax, 0.1, schedule=1.0))
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(p, q)
    assert ha[-1]["nudged_phases"] == hb[-1]["nudged_phases"] == 16


@pytest.mark.parametrize("estimator", ["adaptive-hybrid", "hybrid-stochastic"])
def test_hybrid_resumed_from_a_checkpoint_repeats_the_run(tmp_path, estimator):
    """The estimator's coin and the adaptive hybrid's running disagreement are checkpointed."""
    cfg = RunConfig.of(epochs=3, estimator=estimator, beta=0.1, energy="prototypical",
                      steps=15, nudged_steps=6, **QUICK)
    whole = run(cfg, out=tmp_path / "w.nc", checkpoint_every=1, keep_checkpoints=True,
                quiet=True)
    from thermoep.experiment import epoch_checkpoint

    ckpt = tmp_path / "r.ckpt"
    ckpt.write_bytes(epoch_checkpoint(tmp_path / "w.ckpt", 1).read_bytes())
    resumed = run(cfg, out=tmp_path / "r.nc", checkpoint=ckpt, checkpoint_every=1,
                  resume=True, quiet=True)
    for v in ("test_accuracy", "train_loss", "nudged_phases", "p_std"):
        assert resumed[v].values.tolist() == whole[v].values.tolist(), v


def test_relaxation_tolerance_reaches_the_sampler():

    cfg = RunConfig.of(tol=1e-4, steps=120, **QUICK).resolved()
    relax = cfg.make_sampler()
    assert relax.tol == 1e-4 and relax.steps == 120
    with pytest.raises(ValueError, match="sampler 'langevin' has no parameter 'tol'"):
        RunConfig.of(tol=1e-4, estimator="finite-nudge", **QUICK).resolved()
    with pytest.raises(ValueError, match="tol"):
        RunConfig.of(tol=-1.0, **QUICK).resolved()

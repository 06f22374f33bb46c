"""Defects found by trying thermoep as a new user would (each test failed before its fix)."""

import math

import pytest
import torch
from typer.testing import CliRunner

import thermoep as te
from tests.problems import binary_problem, generator, hopfield_problem
from thermoep import checkpoints, results
from thermoep.cli import app

QUICK = ["--epochs", "2", "--limit-train", "64", "--limit-test", "32", "--hidden", "8",
         "--quiet"]


def test_a_huge_model_says_how_much_memory_it_needs(tmp_path):
    r = CliRunner().invoke(app, ["train", "--hidden", "1000000000", "--quiet", "--out",
                                 str(tmp_path / "h.nc")])
    assert r.exit_code == 2, r.output
    text = r.output.replace("\n", " ")
    assert "parameters, which need" in text and "GiB" in text and "Traceback" not in text


def test_an_overflowing_learning_rate_is_one_line(tmp_path):
    """--lr 1e300 --optimizer sgd gave an overflow traceback from inside the optimizer."""
    r = CliRunner().invoke(app, ["train", *QUICK, "--optimizer", "sgd", "--lr", "1e300",
                                 "--out", str(tmp_path / "o.nc")])
    assert r.exit_code == 2 and "optim.lr = 1e+300 overflows the run's float32" in r.output
    assert "Traceback" not in r.output


def test_divergence_is_one_line_and_keeps_the_epochs_before_it(tmp_path):
    """--lr 1e6 trained to a loss of 1.9e11 and exited 0."""
    out = tmp_path / "d.nc"
    r = CliRunner().invoke(app, ["train", *QUICK, "--epochs", "6", "--optimizer", "sgd",
                                 "--lr", "300", "--out", str(out)])
    assert r.exit_code == 2, r.output
    assert "training diverged at epoch" in r.output and "Traceback" not in r.output
    ds = results.load(out)  # the epochs finished before it, marked as diverged
    assert "diverged" in ds.attrs and 1 <= len(ds["epoch"]) < 6


def test_an_exploding_loss_is_divergence():
    from thermoep.config import RunConfig
    from thermoep.experiment import run
    from thermoep.training import TrainingDiverged

    cfg = RunConfig.of(epochs=4, limit_train=64, limit_test=32, hidden=[8], optimizer="sgd",
                       lr=1e6, momentum=0.0)
    with pytest.raises(TrainingDiverged, match="more than 1000 times its first value|not "
                       "finite"):
        run(cfg, quiet=True)


def test_resume_finds_the_checkpoint_beside_out(tmp_path):
    """--resume without --checkpoint-every said "no checkpoint found at None"."""
    out = tmp_path / "r.nc"
    r = CliRunner().invoke(app, ["train", *QUICK, "--out", str(out), "--checkpoint-every",
                                 "1"])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(app, ["train", *QUICK, "--epochs", "3", "--out", str(out),
                                 "--resume"])
    assert r.exit_code == 2 and "was written by a different config" in r.output
    assert "run.epochs=2 there, 3 here" in r.output.replace("\n", " "), r.output
    r = CliRunner().invoke(app, ["train", *QUICK, "--out", str(out), "--resume"])
    assert r.exit_code == 0, r.output  # found <out>.ckpt, finished (nothing left to train)
    assert len(results.load(out)["epoch"]) == 2
    r = CliRunner().invoke(app, ["train", *QUICK, "--out", str(tmp_path / "none.nc"),
                                 "--resume"])
    assert r.exit_code == 2 and "no checkpoint found at" in r.output and "None" not in r.output


def test_checkpoints_record_their_version(tmp_path):
    out = tmp_path / "v.nc"
    CliRunner().invoke(app, ["train", *QUICK, "--out", str(out), "--checkpoint-every", "1"])
    state = checkpoints.load(out.with_suffix(".ckpt"))
    assert checkpoints.written_by(state) == f"thermoep {te.__version__}"


def test_gibbs_run_takes_class_labels(float64):
    bm, cost, x, y = binary_problem((3, 4, 2), batch=3, seed=4)
    assert y.dtype == torch.int64 and y.dim() == 1
    ph = te.Gibbs(sweeps=20, burn_in=5, chains=4).run(bm, cost, x, y, 0.5,
                                                      generator=generator(0))
    assert ph.output.shape == (3, 2) and torch.isfinite(ph.cost).all()


def test_exact_probabilities_carry_no_graph(float64):
    bm, cost, x, y = binary_problem(seed=1)
    p = te.exact.probabilities(bm, cost, x, y, 0.3)
    assert not p.requires_grad
    torch.testing.assert_close(p.sum(0), torch.ones(x.shape[0]))


def test_standard_errors_print_their_norms():
    net, cost, x, y = hopfield_problem()
    g = te.FiniteNudge(te.Langevin(steps=6, burn_in=2, chains=3), 1.0)(net, cost, x, y)
    text = repr(g.stats["se"])
    assert text.startswith("StandardErrors(") and "dense_x_s1.weight" in text
    assert "object at" not in text
    assert math.isfinite(float(text.split("dense_x_s1.weight: ")[1].split(",")[0]))

"""The exponential moving average of the weights (thermoep.averaging) and its use in training."""

from __future__ import annotations

import pytest
import torch

from thermoep import PrototypicalHopfield, SoftmaxReadout
from thermoep.averaging import WeightAverage
from thermoep.config import RunConfig
from thermoep.costs import trainables
from thermoep.experiment import epoch_checkpoint, run

QUICK = dict(limit_train=300, limit_test=120, hidden=(32,), batch_size=50)


def _model_and_readout():
    torch.manual_seed(0)
    return PrototypicalHopfield([6, 5, 4], "tanh"), SoftmaxReadout(4, 3)


def test_average_follows_its_recursion_with_warm_up():
    model, cost = _model_and_readout()
    params = trainables(model, cost)
    avg = WeightAverage(model, cost, decay=0.9)
    expected = {k: p.detach().clone() for k, p in params.items()}
    g = torch.Generator().manual_seed(1)
    for t in range(1, 91):
        with torch.no_grad():
            for p in params.values():
                p.add_(torch.randn(p.shape, generator=g))
        d = min(0.9, (1 + t) / (10 + t))
        assert avg.rate() == pytest.approx(d)
        avg.update()
        for k, p in params.items():
            expected[k] = d * expected[k] + (1 - d) * p.detach()
            torch.testing.assert_close(avg.average[k], expected[k])
    assert avg.steps == 90 and avg.rate() == 0.9  # warm-up over: (1 + t)/(10 + t) ≥ 0.9 for t ≥ 80


def test_swapped_holds_the_average_and_restores_the_online_weights_exactly():
    model, cost = _model_and_readout()
    params = trainables(model, cost)
    avg = WeightAverage(model, cost, decay=0.5)
    with torch.no_grad():
        for p in params.values():
            p.mul_(3.0).add_(0.25)
    online = {k: p.detach().clone() for k, p in params.items()}
    avg.update()
    with avg.swapped():
        for k, p in params.items():
            torch.testing.assert_close(p.detach(), avg.average[k])
            assert not torch.equal(p.detach(), online[k])
    for k, p in params.items():
        assert torch.equal(p.detach(), online[k])
    # also when the block raises
    with pytest.raises(RuntimeError, match="inside"), avg.swapped():
        raise RuntimeError("inside")
    for k, p in params.items():
        assert torch.equal(p.detach(), online[k])


@pytest.mark.parametrize("decay", [0.0, 1.0, 1.5, -0.1, float("nan")])
def test_bad_decay_is_refused(decay):
    model, cost = _model_and_readout()
    with pytest.raises(ValueError):
        WeightAverage(model, cost, decay=decay)
    with pytest.raises(ValueError, match="ema_decay"):
        RunConfig.of(ema_decay=decay if decay != 0.0 else -1.0, **QUICK).resolved()


def test_state_dict_round_trip_and_mismatch():
    model, cost = _model_and_readout()
    avg = WeightAverage(model, cost, decay=0.95)
    avg.update()
    other = WeightAverage(*_model_and_readout(), decay=0.5)
    other.load_state_dict(avg.state_dict())
    assert other.decay == 0.95 and other.steps == 1
    for k in avg.average:
        assert torch.equal(other.average[k], avg.average[k])
    alone = WeightAverage(_model_and_readout()[0], decay=0.5)  # no read-out parameters
    with pytest.raises(ValueError, match="weight-average state"):
        alone.load_state_dict(avg.state_dict())


def test_training_reports_averaged_and_online_test_metrics(tmp_path):
    cfg = RunConfig.of(epochs=2, ema_decay=0.99, energy="prototypical", cost="softmax-readout",
                      beta=0.1, steps=15, nudged_steps=6, **QUICK)
    ds = run(cfg, out=tmp_path / "a.nc", quiet=True)
    plain = run(RunConfig.of(epochs=2, energy="prototypical", cost="softmax-readout", beta=0.1,
                            steps=15, nudged_steps=6, **QUICK), quiet=True)
    # the average is never read by training: the online weights' metrics equal a run without it
    assert ds["train_loss"].values.tolist() == plain["train_loss"].values.tolist()
    assert ds["test_accuracy_online"].values.tolist() == plain["test_accuracy"].values.tolist()
    assert ds["test_accuracy"].values.tolist() != ds["test_accuracy_online"].values.tolist() or \
        ds["test_loss"].values.tolist() != ds["test_loss_online"].values.tolist()


def test_resumed_run_with_an_average_repeats_the_run(tmp_path):
    cfg = RunConfig.of(epochs=3, ema_decay=0.99, beta=0.2, steps=15, nudged_steps=6, **QUICK)
    whole = run(cfg, out=tmp_path / "w.nc", checkpoint_every=1, keep_checkpoints=True,
                quiet=True)
    ckpt = tmp_path / "r.ckpt"
    ckpt.write_bytes(epoch_checkpoint(tmp_path / "w.ckpt", 1).read_bytes())
    resumed = run(cfg, out=tmp_path / "r.nc", checkpoint=ckpt, checkpoint_every=1, resume=True,
                  quiet=True)
    for v in ("test_accuracy", "test_loss", "test_accuracy_online", "train_loss"):
        assert resumed[v].values.tolist() == whole[v].values.tolist(), v

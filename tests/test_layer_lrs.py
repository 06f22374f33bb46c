"""Per-layer learning rates (RunConfig optim.layer_lrs, --layer-lrs)."""

from __future__ import annotations

import pytest
import torch

from thermoep import PrototypicalHopfield, SoftmaxReadout
from thermoep.config import RunConfig
from thermoep.costs import trainables
from thermoep.experiment import build, layer_groups

QUICK = dict(limit_train=200, limit_test=50, batch_size=50)


def test_groups_follow_the_layers_then_the_readout():
    torch.manual_seed(0)
    model = PrototypicalHopfield([6, 5, 4], "tanh")
    params = trainables(model, SoftmaxReadout(4, 3))
    groups = layer_groups(model, params, (0.3, 0.2, 0.1))
    assert [g["lr"] for g in groups] == [0.3, 0.2, 0.1]
    named = [{k for k, p in params.items() if any(p is q for q in g["params"])} for g in groups]
    assert named == [{"dense_x_s1.weight", "bias_s1.bias"},
                     {"dense_s1_s2.weight", "bias_s2.bias"},
                     {"readout.weight", "readout.bias"}]
    assert layer_groups(model, params, None) == list(params.values())


@pytest.mark.parametrize("lrs", [(0.1,), (0.1, 0.1, 0.1, 0.1)])
def test_wrong_count_is_refused(lrs):
    model = PrototypicalHopfield([6, 5, 4], "tanh")
    params = trainables(model, SoftmaxReadout(4, 3))
    with pytest.raises(ValueError, match="needs 3 learning rates"):
        layer_groups(model, params, lrs)


def test_built_optimizer_uses_each_rate_and_the_schedule_decays_each_group():
    cfg = RunConfig.of(hidden=(16, 8), layer_lrs=(0.04, 0.02, 0.01), optimizer="sgd", epochs=4,
                      **QUICK).resolved()
    _, model, _, _, opt, sched, _, _ = build(cfg)
    assert [g["lr"] for g in opt.param_groups] == [0.04, 0.02, 0.01]
    for _ in range(2):  # half of the cosine: every rate halfway to the shared floor 1e-4
        opt.step()
        sched.step()
    floor = 1e-2 * 0.01
    for g, start in zip(opt.param_groups, (0.04, 0.02, 0.01), strict=True):
        assert g["lr"] == pytest.approx(floor + (start - floor) * 0.5)


def test_bad_rates_are_refused():
    with pytest.raises(ValueError, match="layer_lrs must be > 0"):
        RunConfig.of(layer_lrs=(0.1, -0.1), **QUICK).resolved()
    cfg = RunConfig.of(layer_lrs=(0.1, 0.1, 0.1), **QUICK).resolved()  # hidden (256,): 2 layers
    with pytest.raises(ValueError, match="needs 2 learning rates"):
        build(cfg)


def test_config_round_trips_through_a_dict():
    cfg = RunConfig.of(layer_lrs=(0.1, 0.05), **QUICK)
    assert RunConfig.from_dict(cfg.to_dict()) == cfg
    assert cfg.to_dict()["optim"]["layer_lrs"] == [0.1, 0.05]

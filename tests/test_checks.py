"""The finiteness checks run on every batch read back one number, and still catch every NaN or inf
(and do not flag finite values whose sum overflows)."""

import math

import pytest
import torch

import thermoep as te
from thermoep import _checks


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_all_finite_finds_one_bad_element_among_many(bad):
    ts = [torch.randn(5, 7), torch.randn(3)]
    assert _checks.all_finite(ts)
    ts[1][2] = bad
    assert not _checks.all_finite(ts)


def test_all_finite_is_not_fooled_by_an_overflowing_sum_or_cancelling_infinities():
    assert _checks.all_finite([torch.full((8,), 3e38)])          # the float32 sum is inf
    assert not _checks.all_finite([torch.tensor([math.inf, -math.inf])])  # the sum is NaN
    assert _checks.all_finite([])


def test_finite_parameters_names_the_bad_parameter():
    net = te.LayeredHopfield([4, 3, 2])
    _checks.finite_parameters(net)
    name, p = list(net.named_parameters())[-1]
    with torch.no_grad():
        p.view(-1)[0] = math.nan
    with pytest.raises(ValueError, match=name.replace(".", r"\.")):
        _checks.finite_parameters(net)

"""Gradient.stats (thermoep.gradient.Stats): a dict whose deferred entries (the chain
diagnostics) are computed when read, once, and never when other keys are read."""

import copy
import pickle

import pytest
import torch

import thermoep as te
from thermoep.gradient import Gradient, Stats


def counted(values):
    calls = []

    def fn():
        calls.append(1)
        return dict(values)

    return fn, calls


def test_deferred_entries_wait_for_their_key_and_are_computed_once():
    fn, calls = counted({"free_ess": 12.0, "free_rhat": 1.01})
    s = Stats(beta=1.0, free_acceptance=0.9)
    s.defer(fn, ("free_ess", "free_rhat"))
    assert s["beta"] == 1.0 and s.get("free_acceptance") == 0.9 and "beta" in s
    assert s.get("free_residual") is None and "objective" not in s
    assert calls == []  # other keys, present or not, never compute it
    assert s["free_ess"] == 12.0 and s["free_rhat"] == 1.01
    assert calls == [1]
    assert s.get("free_ess") == 12.0 and dict(s)["free_rhat"] == 1.01 and calls == [1]


@pytest.mark.parametrize("read", [dict, list, len, repr, lambda s: s == {}, lambda s: s != {},
                                  lambda s: list(reversed(s)), lambda s: s | {},
                                  lambda s: list(s.items()), lambda s: list(s.values()),
                                  lambda s: pickle.loads(pickle.dumps(s)), copy.deepcopy,
                                  lambda s: "free_rhat" in s])
def test_every_whole_mapping_read_computes_what_is_pending(read):
    fn, calls = counted({"free_ess": 3.0, "free_rhat": 1.5})
    s = Stats(beta=1.0)
    s.defer(fn, ("free_ess", "free_rhat"))
    read(s)
    assert calls == [1]
    assert dict(s) == {"beta": 1.0, "free_ess": 3.0, "free_rhat": 1.5}
    assert calls == [1]


def test_a_written_entry_wins_over_its_deferred_value_and_absent_keys_stay_absent():
    fn, _ = counted({"free_ess": 3.0})  # no R-hat: too short a trace
    s = Stats()
    s.defer(fn, ("free_ess", "free_rhat"))
    s["free_ess"] = 7.0
    assert s["free_ess"] == 7.0 and "free_rhat" not in s and dict(s) == {"free_ess": 7.0}


def test_a_copy_shares_what_is_pending_and_a_gradient_keeps_the_mapping():
    fn, calls = counted({"free_ess": 3.0})
    s = Stats(beta=2.0)
    s.defer(fn, ("free_ess",))
    g = Gradient({"w": torch.ones(2)}, 1, s)
    assert g.stats is s and calls == []
    h = g.scaled(0.5)
    assert calls == [] and h.stats["free_ess"] == 3.0 and g.stats["free_ess"] == 3.0
    assert Gradient({"w": torch.ones(2)}, 1, {"a": 1.0}).stats == {"a": 1.0}


def test_an_estimator_leaves_the_chain_diagnostics_to_the_reader():
    torch.manual_seed(0)
    net, cost = te.LayeredHopfield([3, 4, 2], "tanh"), te.SquaredError()
    x, y = torch.randn(5, 3), torch.tensor([0, 1, 0, 1, 1])
    est = te.FiniteNudge(te.Langevin(steps=12, burn_in=4, chains=3, temperature=0.01), 0.5)
    g = est(net, cost, x, y, generator=torch.Generator().manual_seed(1))
    assert len(g.stats._pending) == 2  # free and nudged phases, not yet computed
    assert g.stats.get("free_acceptance") is None and len(g.stats._pending) == 2
    phase = g.phases[0.0]
    ref = te.objectives.base.chain_mixing(phase, "free")
    assert set(ref) == {"free_ess", "free_rhat"}
    assert g.stats["free_ess"] == ref["free_ess"] and g.stats["free_rhat"] == ref["free_rhat"]
    assert len(g.stats._pending) == 1
    assert {"nudge+0.5_ess", "nudge+0.5_rhat"} <= set(g.stats) and not g.stats._pending


def test_comparisons_and_removals_see_the_deferred_entries():
    def make():
        s = Stats(beta=1.0)
        s.defer(lambda: {"free_ess": 3.0}, ("free_ess",))
        return s

    full = {"beta": 1.0, "free_ess": 3.0}
    assert make() == full and not (make() != full) and make() == make()
    s = make()
    del s["free_ess"]
    assert dict(s) == {"beta": 1.0}  # deleted, and it does not come back
    s = make()
    s["free_ess"] = 9.0
    assert s.pop("free_ess") == 9.0 and s.get("free_ess") is None
    s = make()
    s.clear()
    assert dict(s) == {} and len(s) == 0

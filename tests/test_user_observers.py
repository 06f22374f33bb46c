"""Observers of one's own in the chain diagnostics: ``chain_diagnostics(observers=...)``,
``thermoep diagnose chains --observer SPEC`` and its spec errors, and ``LayerMeanTrace``."""

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from pyro.ops.stats import effective_sample_size, split_gelman_rubin
from typer.testing import CliRunner

import thermoep as te
from tests.problems import binary_problem, generator, hopfield_problem
from thermoep import diagnostics as dg
from thermoep.cli import app
from thermoep.cli.common import load_observer
from thermoep.results import load

runner = CliRunner()


class FinalOutput(te.observers.Observer):
    """Per chain, the mean output unit of the last kept state ([C], or a number at T = 0), and
    a mapping with a scalar beside it."""

    name = "final"

    def start(self, target, state, chains):
        super().start(target, state, chains)
        self.last = None

    def update(self, target, state):
        self.last = state.position[target.energy.output]

    def finish(self, target):
        return {"chain": self.last.flatten(-2).mean(-1), "count": 3}


class Words(FinalOutput):
    name = "words"

    def finish(self, target):
        return {"fine": 1.0, "bad": "hello"}


def _langevin(**kw):
    return te.Langevin(step_size=0.2, steps=kw.pop("steps", 30), burn_in=10, temperature=0.05,
                       chains=4, metropolis=True, **kw)


def test_layer_mean_trace_is_a_layers_mean_per_chain_and_kept_state():
    net, cost, x, y = hopfield_problem(batch=3, seed=0)
    target = te.Target.of(net, cost, x, y)
    by_hand = te.observers.Trace(lambda t, s: s.position[1].mean(-1), name="by_hand")
    obs = [te.observers.LayerMeanTrace(), te.observers.LayerMeanTrace("s1"),
           te.observers.LayerMeanTrace(-1, name="last"), by_hand]
    assert [o.name for o in obs[:3]] == ["output_mean", "s1_mean", "last"]
    phase = te.sample(_langevin(), target, observers=obs, generator=generator(0))
    assert phase["output_mean"].shape == (4, 20)
    torch.testing.assert_close(phase["output_mean"], phase["by_hand"])
    torch.testing.assert_close(phase["last"], phase["by_hand"])
    assert not torch.allclose(phase["s1_mean"], phase["by_hand"])
    relaxed = te.sample(te.Relaxation(steps=20), target, observers=obs[:1])
    assert relaxed["output_mean"].shape == (1, 1)  # one "chain", one kept state
    with pytest.raises(ValueError, match=r"LayerMeanTrace\(layer='s'.*not a free layer"):
        te.sample(_langevin(), target, observers=[te.observers.LayerMeanTrace("s")])
    with pytest.raises(ValueError, match="out of range"):
        te.sample(_langevin(), target, observers=[te.observers.LayerMeanTrace(5)])
    with pytest.raises(TypeError, match="layer must be"):
        te.observers.LayerMeanTrace(1.5)


@pytest.mark.parametrize("batch", [2, 7, 40, "auto"])
def test_batched_traces_equal_the_per_state_ones(batch):
    # 20 kept states: batch 7 leaves a partial chunk for finish, 40 one partial chunk only
    net, cost, x, y = binary_problem(sizes=(3, 5, 2), batch=3, seed=1)
    target = te.Target.of(net, cost, x, y)
    gibbs = te.Gibbs(sweeps=25, burn_in=5, temperature=1.0, chains=4)
    plain = [te.observers.EnergyTrace(), te.observers.LayerMeanTrace("s1"),
             te.observers.Trace(lambda t, s: s.position[1].sum(-1), name="own")]
    batched = [te.observers.EnergyTrace(name="e_b", batch=batch),
               te.observers.LayerMeanTrace("s1", name="m_b", batch=batch),
               te.observers.Trace(lambda t, s: s.position[1].sum(-1), name="own_b",
                                  batch=batch)]
    phase = te.sample(gibbs, target, observers=plain + batched, generator=generator(3))
    for a, b in (("energy_trace", "e_b"), ("s1_mean", "m_b"), ("own", "own_b")):
        assert phase[a].shape == phase[b].shape == (4, 20)
        torch.testing.assert_close(phase[a], phase[b])
    assert phase["energy_trace"].std() > 0  # the chains move: the comparison has teeth
    relaxed = te.sample(te.Relaxation(steps=10), te.Target.of(*hopfield_problem()),
                        observers=[te.observers.EnergyTrace(batch=batch)])
    assert relaxed["energy_trace"].shape == (1, 1)  # T = 0: evaluated at once, as batch 1
    with pytest.raises(ValueError, match="batch must be an int >= 1"):
        te.observers.Trace(lambda t, s: s.position[0], batch=0)


def test_auto_batch_keeps_the_states_that_fit_its_budget(monkeypatch):
    """``batch="auto"``: as many kept states as hold AUTO_NUMBERS numbers (4 chains × 3 inputs ×
    7 units = 84 a state), at most AUTO_MOST, at least one; the trace is unchanged."""
    net, cost, x, y = binary_problem(sizes=(3, 5, 2), batch=3, seed=1)
    target = te.Target.of(net, cost, x, y)
    gibbs = te.Gibbs(sweeps=25, burn_in=5, temperature=1.0, chains=4)
    for numbers, expected in ((84 * 3 + 83, 3), (10, 1), (2 ** 20, te.observers.Trace.AUTO_MOST)):
        monkeypatch.setattr(te.observers.Trace, "AUTO_NUMBERS", numbers)
        auto = te.observers.EnergyTrace(name="auto", batch="auto")
        phase = te.sample(gibbs, target, observers=[te.observers.EnergyTrace(), auto],
                          generator=generator(3))
        assert auto.batch == expected
        torch.testing.assert_close(phase["auto"], phase["energy_trace"])


def test_chain_diagnostics_summarises_the_observers_of_ones_own():
    net, cost, x, y = hopfield_problem(batch=3, seed=0)
    ds = dg.chain_diagnostics(net, cost, x, y, _langevin(), [0.1, 0.5], generator=generator(0),
                              observers=[te.observers.LayerMeanTrace(), FinalOutput()])
    assert list(ds["trace"].values) == ["cost", "energy", "output_mean"]
    trace = ds["output_mean"]
    assert trace.dims == ("beta", "phase", "chain", "sample") and trace.shape == (2, 2, 4, 20)
    assert trace.attrs == {"observer": "output_mean", "kind": "trace"}
    for b in (0.1, 0.5):
        for ph in ("free", "nudge1"):
            tr = torch.as_tensor(trace.sel(beta=b, phase=ph).values)
            st = ds.sel(beta=b, phase=ph, trace="output_mean")
            assert float(st["ess"]) == pytest.approx(
                float(effective_sample_size(tr, chain_dim=0, sample_dim=1)))
            assert float(st["rhat"]) == pytest.approx(
                float(split_gelman_rubin(tr, chain_dim=0, sample_dim=1)))
    assert ds["final_chain"].dims == ("beta", "phase", "chain")
    assert ds["final_count"].dims == ("beta", "phase") and (ds["final_count"] == 3).all()
    assert ds["final_chain"].attrs["observer"] == "final"
    # at T = 0 the single "chain" is the fixed point: a trace [1, 1] without statistics
    ds0 = dg.chain_diagnostics(net, cost, x, y, te.Relaxation(steps=50), [0.1],
                               estimator="centered", observers=[te.observers.LayerMeanTrace()])
    assert ds0["output_mean"].shape == (1, 3, 1, 1)
    assert np.isnan(ds0["ess"].sel(trace="output_mean").values).all()


def test_chain_diagnostics_refuses_what_it_cannot_record():
    net, cost, x, y = hopfield_problem(batch=2, seed=0)
    lang = _langevin(steps=14)

    def run(*observers):
        return dg.chain_diagnostics(net, cost, x, y, lang, [0.5], observers=observers)

    with pytest.raises(TypeError, match=r"observer 'words' returned a str at \['bad'\]"):
        run(Words())
    with pytest.raises(ValueError, match="'energy_trace' is taken"):
        run(te.observers.EnergyTrace())
    with pytest.raises(ValueError, match="unique"):
        run(FinalOutput(), FinalOutput())
    with pytest.raises(TypeError, match="pass instances, not classes"):
        run(FinalOutput)


def _observer_file(folder):
    path = folder / "my_observers.py"
    path.write_text(
        "import thermoep as te\n\n"
        "def hidden_mean():\n"
        "    return te.observers.LayerMeanTrace('s1', name='hidden_mean')\n\n"
        "NOT_ONE = 3\n"
        "INSTANCE = te.observers.LayerMeanTrace(name='instance')\n\n"
        "def needs(layer):\n"
        "    return te.observers.LayerMeanTrace(layer)\n\n"
        "def number():\n"
        "    return 5\n\n"
        "class Plain:\n"
        "    pass\n", encoding="utf-8")
    (folder / "broken.py").write_text("raise RuntimeError('boom')\n", encoding="utf-8")
    return path


TINY = ["--betas", "1", "--train-epochs", "0", "--batch", "4", "--hidden", "6", "--chains", "3",
        "--steps", "14", "--burn-in", "4"]


def test_cli_chains_reports_and_writes_the_observers_traces(tmp_path):
    spec = f"{_observer_file(tmp_path)}:hidden_mean"
    out = tmp_path / "chains.nc"
    r = runner.invoke(app, ["diagnose", "chains", *TINY, "--observer", spec, "--observer",
                            "thermoep.observers:LayerMeanTrace", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "chain statistics of the hidden_mean trace" in r.output
    assert "chain statistics of the output_mean trace" in r.output
    ds = load(out)
    assert list(ds["trace"].values) == ["cost", "energy", "hidden_mean", "output_mean"]
    assert ds["hidden_mean"].shape == (1, 2, 3, 10)
    ess = float(ds["ess"].sel(beta=1.0, phase="free", trace="hidden_mean"))
    assert np.isfinite(ess) and f"{ess:.3g}" in r.output.split("hidden_mean trace")[1]


@pytest.mark.parametrize(("name", "message"), [
    ("nocolon", "expected package.module:Name or path/to/file.py:Name"),
    ("thermoep.observers:", "expected package.module:Name"),
    ("no_such_module_xyz:Name", "no module named 'no_such_module_xyz'"),
    ("thermoep.observers:Nope", r"thermoep.observers has no .Nope. \(its observers: CostMean"),
    ("thermoep.observers:EnergyTrace", "'energy_trace' is taken"),
    ("thermoep.observers:Observer", "Observer is the base class"),
    ("{dir}/missing.py:X", "no file"),
    ("{dir}/broken.py:X", "importing .*broken.py failed \\(RuntimeError: boom\\)"),
    ("{dir}/my_observers.py:NOT_ONE", "NOT_ONE is an int, not an observer class"),
    ("{dir}/my_observers.py:Plain", "Plain is a class but not an observer"),
    ("{dir}/my_observers.py:needs", "needs\\(\\) failed \\(TypeError: .*must take no arguments"),
    ("{dir}/my_observers.py:number", "number\\(\\) returned an int, not an observer"),
])
def test_cli_bad_observer_specs_fail_in_one_line(name, message, tmp_path):
    _observer_file(tmp_path)
    out = tmp_path / "bad.nc"
    r = runner.invoke(app, ["diagnose", "chains", *TINY, "--observer",
                            name.format(dir=tmp_path), "--out", str(out)])
    assert r.exit_code == 2, r.output
    assert r.output.startswith("error: ") and "Traceback" not in r.output
    assert re.search(message, " ".join(r.output.split())), r.output
    assert not out.exists()


def test_load_observer_takes_a_class_a_factory_or_an_object(tmp_path):
    path = _observer_file(tmp_path)
    assert isinstance(load_observer("thermoep.observers:LayerMeanTrace"),
                      te.observers.LayerMeanTrace)
    made = load_observer(f"{path}:hidden_mean")
    assert made.name == "hidden_mean" and made.layer == "s1"
    assert load_observer(f"{path}:INSTANCE").name == "instance"
    example = Path(__file__).resolve().parents[1] / "examples" / "observers.py"
    examples = load_observer(f"{example}:Magnetisation")
    assert examples.name == "magnetisation" and examples.layer is None

"""The nested run config: one source of truth for every default, files, --set, old results."""

import inspect
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import thermoep as te
from thermoep import results
from thermoep.cli import app
from thermoep.config import SHORT, RunConfig
from thermoep.energies.architectures import ENERGIES
from thermoep.objectives import ESTIMATORS
from thermoep.samplers import SAMPLERS

QUICK = ["--epochs", "1", "--limit-train", "64", "--limit-test", "32", "--hidden", "8",
         "--quiet"]
RESULTS = Path(__file__).parent.parent / "benchmarks" / "results"


def _defaults(factory, skip=()):
    return {k: p.default for k, p in inspect.signature(factory).parameters.items()
            if k not in skip}


@pytest.mark.parametrize("sampler", sorted(SAMPLERS))
def test_sampler_defaults_are_the_constructors(sampler):
    estimator = "finite-nudge" if sampler != "relax" else "centered"
    energy = "boltzmann" if sampler == "gibbs" else "hopfield"
    cfg = RunConfig.of(sampler=sampler, estimator=estimator, energy=energy).resolved()
    assert dict(cfg.sampler.params) == _defaults(SAMPLERS[sampler])


@pytest.mark.parametrize("estimator", sorted(ESTIMATORS))
def test_estimator_and_model_defaults_are_the_constructors(estimator):
    cfg = RunConfig.of(estimator=estimator).resolved()
    want = _defaults(ESTIMATORS[estimator], ("sampler",))
    assert dict(cfg.estimator.params) == want
    assert dict(cfg.model.params) == _defaults(ENERGIES["hopfield"], ("inputs", "outputs"))


def test_the_sampler_follows_the_model_and_the_estimator():
    assert RunConfig.of().resolved().sampler.name == "relax"
    assert RunConfig.of(estimator="path-integral").resolved().sampler.name == "langevin"
    assert RunConfig.of(temperature=0.05).resolved().sampler.name == "langevin"
    assert RunConfig.of(binary=True, estimator="finite-nudge").resolved().sampler.name == "gibbs"
    with pytest.raises(ValueError, match="is the T = 0 relaxation; temperature=0.5"):
        RunConfig.of(sampler="relax", temperature=0.5).resolved()


def test_gibbs_counts_sweeps():
    cfg = RunConfig.of(sampler="gibbs", binary=True, estimator="finite-nudge", steps=12)
    assert cfg.resolved().sampler.params["sweeps"] == 12
    assert cfg.resolved().make_sampler().sweeps == 12


def test_binary_is_a_preset_every_setting_of_which_can_be_given():
    cfg = RunConfig.of(binary=True).resolved()
    assert (cfg.model.name, cfg.estimator.name, cfg.sampler.name) == ("boltzmann",
                                                                      "finite-nudge", "gibbs")
    assert cfg.estimator.params["beta"] == 2.0 and cfg.data.standardize is True
    assert {k: cfg.sampler.params[k] for k in ("temperature", "sweeps", "burn_in", "chains",
                                               "coupled")} == {
        "temperature": 0.1, "sweeps": 20, "burn_in": 5, "chains": 4, "coupled": True}
    mine = RunConfig.of(binary=True, temperature=0.5, steps=7, beta=1.0).resolved()
    assert (mine.sampler.params["temperature"], mine.sampler.params["sweeps"],
            mine.estimator.params["beta"]) == (0.5, 7, 1.0)


def test_cli_binary_trains_on_the_digits(tmp_path):
    # the preset against the old meaning of --binary (T = 1, β ≤ 1), which stayed at chance
    out = tmp_path / "b.nc"
    r = CliRunner().invoke(app, ["train", "--binary", "--hidden", "32", "--epochs", "2",
                                 "--limit-train", "640", "--limit-test", "200", "--steps", "8",
                                 "--burn-in", "2", "--out", str(out), "--quiet"])
    assert r.exit_code == 0, r.output
    ds = results.load(out)
    assert ds.attrs["sampler.temperature"] == 0.1 and ds.attrs["estimator.beta"] == 2.0
    assert float(ds.test_accuracy[-1]) > 0.5, ds.test_accuracy.values


def test_keys_short_dotted_and_unknown():
    cfg = RunConfig.of(chains=8, sampler__burn_in=2, estimator="finite-nudge")
    assert cfg.get("sampler.chains") == 8 and cfg.get("burn_in") == 2
    assert set(SHORT.values()) >= {"sampler.chains", "run.epochs", "model.hidden"}
    with pytest.raises(ValueError, match="unknown setting 'colour'"):
        RunConfig().with_values({"colour": "red"})
    with pytest.raises(ValueError, match=r"sampler.chains: sampler 'relax' has no parameter"):
        RunConfig.of(chains=8).resolved()
    with pytest.raises(ValueError, match=r"unknown config sections \['samplers'\]"):
        RunConfig.from_dict({"samplers": {"name": "gibbs"}})


def test_round_trip_through_a_dict_and_json():
    cfg = RunConfig.of(estimator="path-integral", chains=6, hidden=[16, 8],
                       beta_schedule="linear", beta_end=0.5).resolved()
    d = json.loads(json.dumps(cfg.to_dict()))
    assert RunConfig.from_dict(d) == cfg
    assert d["estimator"]["beta_schedule"] == {"name": "linear", "start": None, "end": 0.5}
    est = cfg.make_estimator()
    est.set_epoch(0, 2)
    assert est.beta == 1.0  # the anneal starts at the estimator's β
    est.set_epoch(1, 2)
    assert est.beta == 0.5


def test_train_from_a_toml_file_with_set(tmp_path):
    (tmp_path / "run.toml").write_text(
        '[data]\nlimit_train = 64\nlimit_test = 32\n'
        '[model]\nhidden = [8]\n'
        '[sampler]\nname = "langevin"\nchains = 3\nsteps = 6\nburn_in = 2\n'
        '[estimator]\nname = "finite-nudge"\n'
        '[run]\nepochs = 1\n')
    out = tmp_path / "r.nc"
    r = CliRunner().invoke(app, ["train", "--config", str(tmp_path / "run.toml"), "--set",
                                 "sampler.chains=2", "--set", "beta=0.5", "--quiet", "--out",
                                 str(out)])
    assert r.exit_code == 0, r.output
    stored = results.config_of(results.load(out))
    assert stored["sampler"]["chains"] == 2 and stored["estimator"]["beta"] == 0.5
    assert stored["sampler"]["thin"] == 1  # every default of the constructor is recorded
    cfg = RunConfig.from_dict(stored)
    assert cfg.resolved().make_sampler().chains == 2


def test_old_results_files_still_load():
    """thermoep 0.1 wrote flat configs: they load, and resolve to the run they describe."""
    ds = results.load(RESULTS / "fmnist_thermo_conditional.nc")
    runs = json.loads(ds.attrs["run_configs"])
    cfg = RunConfig.from_dict(runs[0]["config"]).resolved()
    assert cfg.sampler.name == "gibbs" and cfg.get("sampler.sweeps") == 12
    assert cfg.get("estimator.rao_blackwell") == "conditional"
    assert cfg.data.name == "fashion-mnist" and cfg.get("model.hidden") == (256,)
    r = CliRunner().invoke(app, ["report", str(RESULTS / "fmnist_thermo_conditional.nc"),
                                 "--png", "/dev/null"])
    assert r.exit_code == 0, r.output


@pytest.mark.parametrize("flag, key", [
    ("--epochs", "run.epochs"), ("--steps", "steps"), ("--nudged-steps", "nudged_steps"),
    ("--chains", "chains"), ("--step-size", "step_size")])
def test_zero_is_an_error_not_a_default(flag, key, tmp_path):
    """They used to become the defaults (``self.x or default``)."""
    extra = ["--estimator", "finite-nudge"] if flag == "--chains" else []
    r = CliRunner().invoke(app, ["train", *QUICK, *extra, flag, "0", "--out",
                                 str(tmp_path / "z.nc")])
    assert r.exit_code == 2 and key in r.output, r.output
    assert not (tmp_path / "z.nc").exists()
    r = CliRunner().invoke(app, ["sweep", "-s", "0", "--set", "epochs=0", "--out",
                                 str(tmp_path / "s.nc")])
    assert r.exit_code == 2 and "run.epochs must be an integer >= 1, got 0" in r.output


def test_cli_sampler_choices_come_from_the_registry(tmp_path):
    r = CliRunner().invoke(app, ["train", "--help"])
    assert "nuts" in r.output and "hmc" in r.output
    r = CliRunner().invoke(app, ["train", *QUICK, "--sampler", "nuts", "--estimator",
                                 "finite-nudge", "--chains", "2", "--steps", "3", "--set",
                                 "sampler.burn_in=1", "--limit-train", "8", "--batch-size",
                                 "8", "--limit-test", "8", "--out", str(tmp_path / "n.nc")])
    assert r.exit_code == 0, r.output
    assert results.config_of(results.load(tmp_path / "n.nc"))["sampler"]["name"] == "nuts"


def test_the_library_names_parameters_and_the_cli_its_flags(tmp_path):
    with pytest.raises(ValueError, match=r"^run.epochs must be an integer >= 1, got 0$"):
        RunConfig.of(epochs=0).resolved()
    r = CliRunner().invoke(app, ["train", *QUICK, "--epochs", "0"])
    assert "(--epochs sets run.epochs)" in r.output.replace("\n", " ")


def test_a_flag_left_out_leaves_the_file_s_value(tmp_path):
    (tmp_path / "c.json").write_text(json.dumps({"optim": {"lr": 0.05}, "run": {"seed": 4}}))
    cfg = RunConfig.from_file(tmp_path / "c.json").with_values({"seed": 7}).resolved()
    assert cfg.optim.lr == 0.05 and cfg.run.seed == 7
    with pytest.raises(ValueError, match="cannot be read"):
        (tmp_path / "bad.toml").write_text("[data\n")
        RunConfig.from_file(tmp_path / "bad.toml")


def test_the_builders_build_what_the_config_says():
    cfg = RunConfig.of(hidden=[12], activation="sigmoid4").resolved()
    energy, cost = cfg.make_model((8, 8), 10)
    assert isinstance(energy, te.LayeredHopfield) and energy.sizes == (64, 12, 10)
    assert energy.activation == "sigmoid4" and isinstance(cost, te.SquaredError)
    energy, cost = RunConfig.of(hidden=[12], cost="softmax-readout",
                                energy="prototypical").resolved().make_model((64,), 10)
    assert energy.sizes == (64, 12) and cost.classes == 10


def test_the_evaluation_sampler_takes_its_own_steps_and_burn_in():
    from thermoep.experiment import build

    cfg = RunConfig.of(dataset="digits", limit_train=64, limit_test=32, energy="boltzmann",
                       hidden=[8], estimator="finite-nudge", sampler="gibbs", steps=3,
                       burn_in=1, eval_steps=12, eval_burn_in=2)
    built = build(cfg)
    assert (built.estimator.sampler.sweeps, built.estimator.sampler.burn_in) == (3, 1)
    assert type(built.eval_sampler) is type(built.estimator.sampler)
    assert (built.eval_sampler.sweeps, built.eval_sampler.burn_in) == (12, 2)
    assert built.eval_sampler.chains == built.estimator.sampler.chains
    # without the settings the evaluation runs the training sampler itself
    plain = build(RunConfig.of(dataset="digits", limit_train=64, limit_test=32,
                               energy="boltzmann", hidden=[8], estimator="finite-nudge"))
    assert plain.eval_sampler is plain.estimator.sampler
    with pytest.raises(ValueError, match="run.eval_burn_in: sampler 'relax' has no burn_in"):
        RunConfig.of(dataset="digits", eval_burn_in=2).resolved().make_eval_sampler()
    with pytest.raises(ValueError, match="run.eval_steps / run.eval_burn_in: burn_in must be"):
        RunConfig.of(dataset="digits", energy="boltzmann", estimator="finite-nudge",
                     eval_steps=4, eval_burn_in=4).resolved().make_eval_sampler()


def test_train_takes_the_evaluation_sampler_from_the_command_line(tmp_path):
    out = tmp_path / "run.nc"
    result = CliRunner().invoke(app, [
        "train", "--dataset", "digits", "--limit-train", "64", "--limit-test", "32",
        "--binary", "--hidden", "8", "--steps", "3", "--burn-in", "1", "--eval-steps", "12",
        "--eval-burn-in", "2", "--epochs", "1", "--quiet", "--out", str(out)])
    assert result.exit_code == 0, result.output
    run = results.config_of(results.load(out))["run"]
    assert (run["eval_steps"], run["eval_burn_in"]) == (12, 2)

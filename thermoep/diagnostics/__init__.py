"""Diagnostics of the gradient estimators and their samplers (one concept per module).

    from thermoep import diagnostics as dg
    energy, cost, x, y = dg.diagnostic_problem()                 # digits, 64-32-10, batch 64
    lang = dg.make_sampler(0.01, chains=16)
    dg.coupling_comparison(energy, cost, x, y, lang, [1e-3, 1e-2, 0.1, 1])   # SNR of Δs vs β
    dg.gradient_alignment(energy, cost, x, y, [1e-3, 1e-2, 0.1, 1], sampler=lang,
                          relaxation=te.Relaxation(steps=100))     # cos with ∇L_sup and ∇L_β
    dg.bias_order(...), dg.summarise_chains(g), dg.lipschitz_constant(energy, cost, x, y, relax)

* :mod:`.snr` — SNR of Δs = s_β − s_0 and ‖SE‖ of ĝ vs β; independent vs coupled chains
  (seed ep-without-limits Fig. 1B).
* :mod:`.alignment` — cosine with ∇L_sup and with the exact/high-budget ∇L_β vs β (Fig. 1A);
  std/cep vs BPTT over training checkpoints (seed hybrid-ep App. B).
* :mod:`.bias_order` — ‖ĝ(β) − g_ref‖ vs β and its log-log slope (hybrid-ep eqs. 7, 10).
* :mod:`.chains` — ESS, split R-hat, autocorrelation, acceptance, residual per phase.
* :mod:`.lipschitz` — σ_max of the relaxation map's Jacobian at s*_0 (spectral-normalization §2.2).
* :mod:`.references`, :mod:`.recording`, :mod:`.checkpoints`, :mod:`.problem`,
  :mod:`.dataset` — the reference gradients, phase recording, checkpoint loading, the default
  problem, and the Dataset convention (attrs ``kind="diagnostic"``, ``x``, ``logx``/``logy``).

Every diagnostic returns an ``xarray.Dataset`` that ``thermoep.results.write`` saves and
:func:`plot` (→ ``thermoep.plots.plot_any``) draws.
"""

from .alignment import (
    DEFAULT_ESTIMATORS,
    alignment_over_training,
    default_estimators,
    gradient_alignment,
)
from .bias_order import bias_order, fit_slope
from .chains import chain_diagnostics, summarise_chains, trace_statistics
from .checkpoints import LoadedModel, find_epoch_checkpoints, load_model
from .dataset import plot, plot_variables
from .lipschitz import lipschitz_constant, lipschitz_over_training, relaxation_map
from .problem import DiagnosticProblem, diagnostic_problem, make_sampler
from .recording import PhaseRecorder, RecordedPhase
from .references import high_budget, supervised_gradient, target_gradient
from .snr import coupling_comparison, snr_from_delta, state_snr

__all__ = [
    "DEFAULT_ESTIMATORS", "DiagnosticProblem", "LoadedModel", "PhaseRecorder", "RecordedPhase",
    "alignment_over_training", "bias_order", "chain_diagnostics", "coupling_comparison",
    "default_estimators", "diagnostic_problem", "find_epoch_checkpoints", "fit_slope",
    "gradient_alignment", "high_budget", "lipschitz_constant", "lipschitz_over_training",
    "load_model", "make_sampler", "plot", "plot_variables", "relaxation_map", "snr_from_delta",
    "state_snr", "summarise_chains", "supervised_gradient", "target_gradient",
    "trace_statistics",
]

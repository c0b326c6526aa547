"""eihpredict: predict impaired exercise-induced hypoalgesia (EIH).

The light parts (contract, validation, simulator) import at once; the heavy ones
(training, scoring, explanations, tracking, the service) load on first use, so
``import eihpredict`` stays fast.

Examples
--------
>>> import eihpredict
>>> cohort = eihpredict.simulate_cohort(50, seed=0)
>>> bool(eihpredict.validate_frame(cohort.frame).valid.all())
True
"""

from importlib import import_module
from typing import Any

from .instruments import (
    CPM_FORMS,
    INSTRUMENTS,
    Instrument,
    Scale,
    register_instrument,
    unregister_instrument,
)
from .schema import COLUMNS, CONTRACT_VERSION, contract_markdown, participant_model
from .simulate import SCENARIOS, simulate_cohort
from .validation import read_valid_cohort, validate_file, validate_frame

__version__ = "0.1.0"

# name -> (module, attribute): loaded on first access.
_LAZY = {
    "load_config": (".config", "load_config"),
    "train": (".training", "train"),
    "format_results": (".training", "format_results"),
    "fit_candidate": (".modeling", "fit_candidate"),
    "explain_model": (".explain", "explain_model"),
    "load_model_dir": (".model_dir", "load_model_dir"),
    "check_model_dir": (".model_dir", "check_model_dir"),
    "score_frame": (".scoring", "score_frame"),
    "score_file": (".scoring", "score_file"),
    "explain_frame": (".explain", "explain_frame"),
    "discover_biomarkers": (".explain", "discover_biomarkers"),
    "build_feature_pipeline": (".features", "build_feature_pipeline"),
    "make_labels": (".labels", "make_labels"),
    "LabelRule": (".labels", "LabelRule"),
    "minimum_sample_size": (".modeling", "minimum_sample_size"),
    "harmonize": (".harmonize", "harmonize"),
    "StudyMapping": (".mapping", "StudyMapping"),
    "check_training_file": (".readiness", "check_training_file"),
    "evaluate_model": (".evaluation", "evaluate_model"),
    "update_model": (".evaluation", "update_model"),
    "score_records": (".scoring", "score_records"),
    "simulate_crossover": (".simulate", "simulate_crossover"),
    "prescribe": (".prescribe", "prescribe"),
    "prescribe_records": (".prescribe", "prescribe_records"),
    "prescribe_file": (".prescribe", "prescribe_file"),
    "heterogeneity_test": (".modeling", "heterogeneity_test"),
}

__all__ = [
    "COLUMNS",
    "CONTRACT_VERSION",
    "CPM_FORMS",
    "INSTRUMENTS",
    "Instrument",
    "Scale",
    "register_instrument",
    "unregister_instrument",
    "SCENARIOS",
    "__version__",
    "contract_markdown",
    "participant_model",
    "read_valid_cohort",
    "simulate_cohort",
    "validate_file",
    "validate_frame",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, attribute = _LAZY[name]
        value = getattr(import_module(module, __name__), attribute)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'eihpredict' has no attribute {name!r}")

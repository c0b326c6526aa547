"""Classifiers, Optuna tuning, nested cross-validation, calibration, metrics, and the
fitted-model protocol every model kind implements (:mod:`._protocol`)."""

from ._calibration import Calibrator, resolve_method
from ._estimators import ESTIMATORS, make_pipeline
from ._metrics import (
    METRICS,
    bootstrap_metrics,
    calibration_slope_intercept,
    choose_threshold,
    decision_curve,
    point_metrics,
    subgroup_metrics,
)
from ._model import OUTPUT_COLUMNS, EnsembleModel, FittedModel, TrainedModel
from ._nested import FittedCandidate, OuterResult, fit_candidate, run_outer_cv
from ._plots import plot_calibration, plot_decision_curves, plot_roc
from ._protocol import ColumnBatch, Contributions, PipelineScorer, lgbm_threads
from ._samplesize import SampleSize, cox_snell_r2_from_c, minimum_sample_size

__all__ = [
    "ESTIMATORS",
    "METRICS",
    "OUTPUT_COLUMNS",
    "Calibrator",
    "ColumnBatch",
    "Contributions",
    "EnsembleModel",
    "FittedCandidate",
    "FittedModel",
    "OuterResult",
    "PipelineScorer",
    "SampleSize",
    "TrainedModel",
    "bootstrap_metrics",
    "calibration_slope_intercept",
    "choose_threshold",
    "cox_snell_r2_from_c",
    "decision_curve",
    "fit_candidate",
    "lgbm_threads",
    "make_pipeline",
    "minimum_sample_size",
    "plot_calibration",
    "plot_decision_curves",
    "plot_roc",
    "point_metrics",
    "resolve_method",
    "run_outer_cv",
    "subgroup_metrics",
]

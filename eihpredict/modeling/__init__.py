"""Classifiers, Optuna tuning, nested cross-validation, calibration and metrics."""

from ._calibration import Calibrator, resolve_method
from ._estimators import make_pipeline, raw_log_odds
from ._metrics import (
    METRICS,
    bootstrap_metrics,
    calibration_slope_intercept,
    choose_threshold,
    decision_curve,
    point_metrics,
)
from ._model import EnsembleModel, TrainedModel
from ._samplesize import SampleSize, cox_snell_r2_from_c, minimum_sample_size

__all__ = [
    "METRICS",
    "Calibrator",
    "EnsembleModel",
    "SampleSize",
    "TrainedModel",
    "bootstrap_metrics",
    "calibration_slope_intercept",
    "choose_threshold",
    "cox_snell_r2_from_c",
    "decision_curve",
    "make_pipeline",
    "minimum_sample_size",
    "point_metrics",
    "raw_log_odds",
    "resolve_method",
]

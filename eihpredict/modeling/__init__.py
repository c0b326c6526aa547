"""Classifiers, Optuna tuning, nested cross-validation, calibration and metrics.

Validation beyond the development cohort: external-validation metrics with intervals
(``binary_metrics``, ``continuous_metrics``, ``multiclass_metrics``, calibration and
decision curves), a row or site bootstrap for any metric (``cluster_bootstrap``), model
updating (``recalibrate_intercept``, ``recalibrate_logistic``, ``closed_test``),
random-effects pooling of per-site performance (``site_performance``,
``pool_site_performance``, ``random_effects_meta``, ``forest_plot``) and sample sizes
for development and validation.
"""

from ._bootstrap import bootstrap_weights, cluster_bootstrap
from ._calibration import Calibrator, resolve_method
from ._estimators import make_pipeline, raw_log_odds
from ._external import (
    BINARY_METRICS,
    THREE_CLASSES,
    binary_metrics,
    binary_point_estimates,
    continuous_metrics,
    flexible_calibration_curve,
    multiclass_metrics,
    net_benefit_curve,
)
from ._meta import (
    MetaAnalysis,
    forest_plot,
    meta_summary,
    pool_site_performance,
    random_effects_meta,
    site_performance,
)
from ._metrics import (
    METRICS,
    bootstrap_metrics,
    calibration_slope_intercept,
    choose_threshold,
    decision_curve,
    point_metrics,
)
from ._model import EnsembleModel, TrainedModel
from ._recalibration import (
    ClosedTest,
    Recalibration,
    closed_test,
    recalibrate_intercept,
    recalibrate_logistic,
)
from ._samplesize import (
    ContinuousSampleSize,
    SampleSize,
    ValidationSampleSize,
    cox_snell_r2_from_c,
    max_cox_snell_r2,
    minimum_sample_size,
    minimum_sample_size_continuous,
    validation_sample_size,
)

__all__ = [
    "BINARY_METRICS",
    "METRICS",
    "THREE_CLASSES",
    "Calibrator",
    "ClosedTest",
    "ContinuousSampleSize",
    "EnsembleModel",
    "MetaAnalysis",
    "Recalibration",
    "SampleSize",
    "TrainedModel",
    "ValidationSampleSize",
    "binary_metrics",
    "binary_point_estimates",
    "bootstrap_metrics",
    "bootstrap_weights",
    "calibration_slope_intercept",
    "choose_threshold",
    "closed_test",
    "cluster_bootstrap",
    "continuous_metrics",
    "cox_snell_r2_from_c",
    "decision_curve",
    "flexible_calibration_curve",
    "forest_plot",
    "make_pipeline",
    "max_cox_snell_r2",
    "meta_summary",
    "minimum_sample_size",
    "minimum_sample_size_continuous",
    "multiclass_metrics",
    "net_benefit_curve",
    "point_metrics",
    "pool_site_performance",
    "random_effects_meta",
    "raw_log_odds",
    "recalibrate_intercept",
    "recalibrate_logistic",
    "resolve_method",
    "site_performance",
    "validation_sample_size",
]

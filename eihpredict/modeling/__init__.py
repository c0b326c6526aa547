"""Classifiers and regressors, Optuna tuning, nested cross-validation, calibration,
metrics, and the fitted-model protocol every model kind implements (:mod:`._protocol`).

Two registries, each axis declared once: the tasks (:data:`TASKS`, :func:`get_task`;
binary impaired EIH, the continuous PPT change with its predictive distribution, three
classes hypoalgesia / no change / hyperalgesia), which know their splits, scores,
calibration, metrics, plots and card sentences (:mod:`._tasks`), and the model families
(:data:`FAMILIES`, :func:`register_family`; ``lightgbm``, ``logistic``, ``ordinal``), which
know their estimators, feature preparation, protocol head and pinned packages
(:mod:`._estimators`). Callers ask a task or a family; they never compare names.
:mod:`._outputs` maps each task's raw scores to its output columns.

Validation beyond the development cohort: external-validation metrics with intervals
(``binary_metrics``, ``continuous_metrics``, ``multiclass_metrics``, calibration and
decision curves), a row or site bootstrap for any metric (``cluster_bootstrap``), model
updating (``recalibrate_intercept``, ``recalibrate_logistic``, ``closed_test``),
random-effects pooling of per-site performance (``site_performance``,
``pool_site_performance``, ``random_effects_meta``, ``forest_plot``) and sample sizes
for development and validation.
"""

from ._bootstrap import bootstrap_weights, cluster_bootstrap, draw_rows
from ._calibration import Calibrator, MulticlassCalibrator, resolve_method
from ._estimators import (
    ESTIMATORS,
    FAMILIES,
    ModelFamily,
    OrdinalLogistic,
    PenalisedLinearRegression,
    family_of,
    get_family,
    make_pipeline,
    register_family,
    unregister_family,
)
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
from ._heterogeneity import HeterogeneityTest, heterogeneity_test
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
    subgroup_metrics,
)
from ._model import (
    MISSING_DOMINATES,
    MISSINGNESS_COLUMNS,
    OUTPUT_COLUMNS,
    CovariateAdjustedModel,
    EnsembleModel,
    FittedModel,
    RefitParts,
    TrainedModel,
)
from ._nested import (
    PRE_COVARIATE,
    SELECTED,
    FittedCandidate,
    OuterResult,
    candidate_complexity,
    fit_candidate,
    outer_splits,
    run_outer_cv,
    select_candidate,
    split_groups,
)
from ._outputs import (
    BinaryOutputs,
    ContinuousOutputs,
    LocationScaleDistribution,
    OutputMap,
    ResidualDistribution,
    ThreeClassOutputs,
    conformal_interval,
)
from ._plots import plot_calibration, plot_decision_curves, plot_roc
from ._protocol import (
    ColumnBatch,
    Contributions,
    PipelineScorer,
    estimator_contributions,
    lgbm_threads,
)
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
from ._stats import LogisticFit, fit_logistic
from ._task_metrics import (
    CONTINUOUS_METRICS,
    THREE_CLASS_METRICS,
    bootstrap_continuous_metrics,
    bootstrap_three_class_metrics,
    continuous_point_metrics,
    three_class_point_metrics,
)
from ._task_plots import plot_change, plot_three_class_calibration, plot_three_class_roc
from ._tasks import TASKS, Task, get_task, register_task

__all__ = [
    "LogisticFit", "FAMILIES", "ModelFamily", "family_of", "get_family", "register_family",
    "unregister_family", "TASKS", "Task", "get_task", "register_task",
    "fit_logistic",
    "CONTINUOUS_METRICS", "PRE_COVARIATE", "THREE_CLASS_METRICS", "BinaryOutputs",
    "ContinuousOutputs", "CovariateAdjustedModel", "MulticlassCalibrator", "OutputMap",
    "PenalisedLinearRegression", "ResidualDistribution", "ThreeClassOutputs",
    "OrdinalLogistic", "LocationScaleDistribution",
    "bootstrap_continuous_metrics", "bootstrap_three_class_metrics", "conformal_interval",
    "continuous_point_metrics", "plot_change", "plot_three_class_calibration",
    "plot_three_class_roc", "three_class_point_metrics",
    "BINARY_METRICS", "ESTIMATORS", "METRICS", "MISSING_DOMINATES", "MISSINGNESS_COLUMNS",
    "OUTPUT_COLUMNS", "SELECTED", "THREE_CLASSES",
    "Calibrator", "ClosedTest", "ColumnBatch", "ContinuousSampleSize", "Contributions",
    "EnsembleModel", "FittedCandidate", "FittedModel", "MetaAnalysis", "OuterResult",
    "PipelineScorer", "Recalibration", "RefitParts", "SampleSize", "TrainedModel",
    "ValidationSampleSize", "binary_metrics", "binary_point_estimates",
    "bootstrap_metrics", "bootstrap_weights", "calibration_slope_intercept",
    "choose_threshold", "closed_test", "cluster_bootstrap", "continuous_metrics",
    "cox_snell_r2_from_c", "decision_curve",
    "estimator_contributions", "fit_candidate", "flexible_calibration_curve",
    "forest_plot", "lgbm_threads", "make_pipeline", "max_cox_snell_r2", "meta_summary",
    "minimum_sample_size", "minimum_sample_size_continuous", "multiclass_metrics",
    "net_benefit_curve", "plot_calibration", "plot_decision_curves", "plot_roc",
    "point_metrics", "pool_site_performance", "random_effects_meta",
    "recalibrate_intercept", "recalibrate_logistic", "resolve_method",
    "run_outer_cv", "select_candidate", "candidate_complexity",
    "outer_splits", "split_groups", "site_performance", "subgroup_metrics",
    "validation_sample_size", "draw_rows", "HeterogeneityTest", "heterogeneity_test",
]

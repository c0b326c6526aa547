"""Prediction tasks as objects: what differs between a binary, a continuous and a
three-class model is declared here, once, and every caller asks the task.

A task is chosen by the config's label rule (``PipelineConfig.task`` gives its name;
:func:`get_task` the object) and stored by name in a saved model (``metadata.json``
``task``, the output map's ``task``), so model directories stay plain data.

=============  =========================  ==================================  ========
task           outcome ``y``              raw score                           splits
=============  =========================  ==================================  ========
binary         0/1 impaired EIH           log-odds (n,)                       strat.
continuous     change in kPa (post-pre)   predicted change (n,)               plain
three_class    0/1/2 (hypo/none/hyper)    logits (n, 3)                       strat.
=============  =========================  ==================================  ========

Each task knows its estimator role (classifier or regressor), its splitters, its tuning
score, its calibration (the output map fitted on out-of-fold raw scores), the binary
event its curves and sample size are read for, its metrics tables, its plots and the
sentences of the model card. A new task is one subclass and :func:`register_task`.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd

from ._calibration import Calibrator, MulticlassCalibrator, resolve_method
from ._external import binary_metrics, continuous_metrics, multiclass_metrics
from ._metrics import _auroc, bootstrap_metrics, choose_threshold
from ._outputs import (
    THREE_CLASSES,
    ContinuousOutputs,
    LocationScaleDistribution,
    ResidualDistribution,
    ThreeClassOutputs,
)
from ._plots import plot_calibration, plot_roc
from ._task_metrics import bootstrap_continuous_metrics, bootstrap_three_class_metrics
from ._task_plots import plot_change, plot_three_class_calibration, plot_three_class_roc

__all__ = ["TASKS", "BinaryTask", "ContinuousTask", "Task", "ThreeClassTask", "get_task",
           "register_task"]

_EPS = 1e-12

#: The covariate of an ANCOVA-style continuous model: the outcome's pre-exercise PPT.
PRE_COVARIATE = "eih_ppt_pre_kpa"

#: Metrics that only a continuous outcome has (tuning or selection).
CONTINUOUS_ONLY_METRICS = frozenset({"mse", "rmse", "mae", "r2"})

#: Multiclass calibration per ``calibration.method``.
MULTICLASS_METHODS = {"auto": "vector", "sigmoid": "vector", "temperature": "temperature",
                      "none": "none"}


class Task:
    """One prediction task (subclass it; see the module docstring)."""

    #: Name in configs, metadata and output maps.
    name: ClassVar[str]
    #: Outputs per row of the raw score (None: one column).
    n_outputs: ClassVar[int | None] = None
    #: The estimator a model family gives for it.
    estimator_role: ClassVar[str] = "classifier"
    #: Generalised linear model of the biomarker tests.
    glm: ClassVar[str] = "binomial"
    #: The binary event the task's curves, subgroups and sample size are read for.
    event: ClassVar[str] = "impaired EIH"
    #: Short name of that event's probability (plots' axis).
    event_short: ClassVar[str] = "impaired EIH"
    #: What one adjusted effect of a biomarker measures; its null value; +1 when a
    #: larger effect is a higher risk.
    effect_measure: ClassVar[str] = "odds ratio of impaired EIH"
    effect_null: ClassVar[float] = 1.0
    risk_sign: ClassVar[float] = 1.0
    #: The raw-score output an explanation shows (None: the only one).
    explain_output: ClassVar[int | None] = None
    #: ``eihpredict update`` can recalibrate or refit it.
    updatable: ClassVar[bool] = False
    #: Metrics in the model card's table and the two headline figures.
    card_metrics: ClassVar[tuple[str, ...]] = ()
    headline: ClassVar[tuple[tuple[str, str], ...]] = ()
    #: AUROC row of its external-validation metrics (sizes the validation sample).
    external_auroc: ClassVar[str] = "auroc"
    #: What a SHAP value (contribution to the explained raw-score output) is in.
    explanation_unit: ClassVar[str] = "log-odds of impaired EIH"
    #: ``selection_metric`` -> (metric in the task's validation table, lower is better).
    selection_keys: ClassVar[dict[str, tuple[str, bool]]] = {
        "log_loss": ("log_loss", True), "brier": ("brier", True),
        "roc_auc": ("auroc", False)}
    #: Columns of the terminal table of candidates.
    table_columns: ClassVar[tuple[str, ...]] = (
        "auroc", "auprc", "brier", "calibration_slope", "calibration_intercept",
        "sensitivity", "specificity")

    def __repr__(self) -> str:
        return f"<task {self.name}>"

    # -- data ---------------------------------------------------------------------
    def impaired_event(self, y: np.ndarray, label) -> np.ndarray:
        """Impaired EIH (0/1) of outcomes ``y`` under ``label`` (a LabelRule)."""
        return np.asarray(y).astype(int)

    def binary_view(self, y: np.ndarray, probabilities: np.ndarray, label
                    ) -> tuple[np.ndarray, np.ndarray]:
        """The binary question the predictions answer for decision curves and subgroups:
        the event (0/1) and its probability."""
        return self.impaired_event(y, label), probabilities

    def effect_target(self, y: np.ndarray) -> np.ndarray:
        """The outcome an adjusted biomarker effect is estimated for (its
        :attr:`effect_measure`)."""
        return np.asarray(y)

    def uncalibrated_outputs(self, residuals: np.ndarray):
        """An output map for a model fitted without calibration (the biomarker
        selector): raw outputs, interval from in-sample ``residuals`` (continuous)."""
        return None

    def check_outcome(self, y: np.ndarray, source: str, label) -> None:
        """Raise ``ValueError`` when the outcomes cannot train this task."""
        if len(np.unique(y)) < 2:
            raise ValueError(f"{source}: every row has the same label ({y[0]}); nothing "
                             "to learn")

    def summary(self, y: np.ndarray) -> dict[str, Any]:
        """Task-specific entries of the training data summary (no individual rows)."""
        return {}

    def summary_lines(self, summary: dict[str, Any], config, covariate: bool) -> list[str]:
        """Log lines about the outcome (training step 1)."""
        return []

    def sample_size_event(self, y: np.ndarray, label) -> tuple[np.ndarray, str]:
        """The binary event Riley's criteria are applied to, and its description."""
        return self.impaired_event(y, label), "impaired EIH"

    # -- configuration --------------------------------------------------------------
    def check_metric(self, key: str, metric: str) -> None:
        """Raise ``ValueError`` when ``metric`` (tuning or selection) does not fit."""
        if metric in CONTINUOUS_ONLY_METRICS:
            raise ValueError(f"{key} {metric} needs label rule continuous (this label "
                             f"rule gives a {self.name} outcome); use log_loss, brier or "
                             "roc_auc")

    def check_config(self, config) -> None:
        """Raise ``ValueError`` for options that make no sense for this task."""

    def covariates(self, config) -> tuple[str, ...]:
        """Contract columns added to the features unchanged (ANCOVA)."""
        return ()

    # -- fitting ----------------------------------------------------------------------
    def splitter(self, n_folds: int, seed: int, *, grouped: bool = False):
        """Shuffled K-fold (stratified by the label unless :attr:`stratified` is off);
        grouped variants keep a group on one side."""
        from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

        if grouped:
            return StratifiedGroupKFold(n_folds, shuffle=True, random_state=seed)
        return StratifiedKFold(n_folds, shuffle=True, random_state=seed)

    def repeated_splitter(self, n_folds: int, n_repeats: int, seed: int):
        from sklearn.model_selection import RepeatedStratifiedKFold

        return RepeatedStratifiedKFold(n_splits=n_folds, n_repeats=n_repeats,
                                       random_state=seed)

    def tuning_score(self, metric: str, y: np.ndarray, z: np.ndarray) -> float:
        """The tuning metric of raw scores ``z`` (lower is better except ``roc_auc``)."""

        p = 1 / (1 + np.exp(-z))
        if metric == "roc_auc":
            return _auroc(y, p)
        if metric == "brier":
            return float(np.mean((p - y) ** 2))
        pc = np.clip(p, _EPS, 1 - _EPS)
        return float(-np.mean(y * np.log(pc) + (1 - y) * np.log(1 - pc)))

    def selection_score(self, metric: str, y: np.ndarray, fitted) -> float:
        """The selection metric on a training set's own out-of-fold predictions (lower
        is better; AUROC negated): the mean of :meth:`row_losses`."""
        losses = self.row_losses(metric, y, self.oof_predictions(fitted))
        if losses is None:
            return -_auroc(y, self.oof_predictions(fitted))
        return float(np.mean(losses))

    def row_losses(self, metric: str, y: np.ndarray, predicted: np.ndarray
                   ) -> np.ndarray | None:
        """Each row's share of the selection metric (its mean over rows is the metric),
        averaged over leading axes (repeats); ``None`` for a metric that is not a mean
        over rows (AUROC). ``predicted``: what :meth:`selection_predictions` gives."""
        if metric == "roc_auc":
            return None
        p = np.asarray(predicted, dtype="float64")
        y = np.asarray(y, dtype="float64")
        if metric == "brier":
            loss = (p - y) ** 2
        else:
            pc = np.clip(p, _EPS, 1 - _EPS)
            loss = -(y * np.log(pc) + (1 - y) * np.log(1 - pc))
        return loss.reshape(-1, loss.shape[-1]).mean(axis=0)

    def selection_predictions(self, outer, name: str) -> np.ndarray:
        """The outer-CV predictions the selection metric reads: P(impaired EIH)."""
        return outer.probabilities[name]

    def oof_predictions(self, fitted) -> np.ndarray:
        """The same from a fitted candidate's own out-of-fold raw scores."""
        return fitted.model.calibrator.predict(fitted.raw_oof)

    def calibrate(self, config, raw_oof: np.ndarray, y: np.ndarray, *, X=None,
                  groups=None, seed: int = 0, site_groups=None):
        """The output map from out-of-fold raw scores: ``(output_map, calibrator,
        threshold, method)``. ``X`` (the training rows), ``groups`` (the candidate's
        feature groups), ``seed`` and ``site_groups`` (grouped folds) serve a map that
        reads the rows (a continuous model's scale model); others ignore them. A binary
        model keeps no output map of its own: its outputs follow its calibrator and
        threshold fields (as models saved before output maps did), so replacing the
        calibrator (model updating) recalibrates it."""

        rule = config.threshold
        method = resolve_method(config.calibration.method, len(y))
        calibrator = Calibrator(method).fit(raw_oof, y)
        threshold = choose_threshold(y, calibrator.predict(raw_oof), rule.rule,
                                     value=rule.value, min_sensitivity=rule.min_sensitivity)
        return None, calibrator, threshold, method

    def table_caption(self, config) -> str:
        """What the terminal table of candidates measures."""
        return "impaired EIH"

    def threshold_rule(self, config) -> str:
        return config.threshold.rule

    # -- reporting ----------------------------------------------------------------------
    def validation_metrics(self, y, probabilities, outputs, threshold, decisions, label, *,
                           n_boot: int, seed: int, clusters=None):
        """Bootstrap metrics of outer-CV predictions: ``(table, probabilities of the
        binary view)``; ``clusters`` (participants with repeated sessions) are resampled
        whole."""
        table = bootstrap_metrics(y, probabilities, threshold, decisions=decisions,
                                  n_boot=n_boot, seed=seed, clusters=clusters)
        return table, probabilities

    def validation_plots(self, y, outer, metrics, chosen, config, folder, fmt) -> dict:
        """The plots of outer-CV predictions beyond the decision curve (``fmt(table,
        metric)`` formats one metric of one candidate's table for a legend)."""

        impaired = self.impaired_event(y, config.label)
        legend = {m: {name: fmt(table, m) for name, table in metrics.items()}
                  for m in ("auroc", "calibration_slope")}
        return {
            "roc.png": plot_roc(impaired, outer.probabilities, legend["auroc"],
                                folder / "roc.png", seed=config.seed),
            "calibration.png": plot_calibration(impaired, outer.probabilities,
                                                legend["calibration_slope"],
                                                folder / "calibration.png"),
        }

    def decision_line(self, threshold: float, rule: str) -> str:
        return f"Decision threshold ({rule}) on P(impaired EIH): {threshold:.3f}"

    def subgroup_intervals(self, subgroups, frame, y, outputs):
        """The subgroup table with the task's interval figures (a task without
        prediction intervals returns it unchanged)."""
        return subgroups

    def external_metrics(self, model, frame, y: np.ndarray, label_rule: dict, *,
                         n_boot: int, seed: int):
        """External-validation metrics of a loaded model on outcomes ``y``: ``(table,
        event, probability of the event)``."""

        p = np.clip(model.predict_proba(frame), _EPS, 1 - _EPS)
        return binary_metrics(y, p, model.threshold, n_boot=n_boot, seed=seed), y, p

    def external_decision(self, threshold: float) -> str:
        return f"decision threshold {threshold:.3f}"

    def card_lines(self, metadata: dict[str, Any]) -> dict[str, str]:
        """Sentences of the model card that depend on what the model predicts."""
        cal, threshold = metadata["calibration"], metadata["threshold"]
        return {
            "predicts": "the probability of **impaired exercise-induced hypoalgesia (EIH)**",
            "calibration": f"{cal['method']} on out-of-fold log-odds",
            "threshold": f"- Decision threshold: {threshold['value']:.3f} "
                         f"({threshold['rule']} rule, chosen on out-of-fold predictions).",
            "subgroups": "AUROC of P(impaired EIH)",
        }


class BinaryTask(Task):
    name = "binary"
    updatable = True
    card_metrics = ("auroc", "auprc", "brier", "log_loss", "calibration_slope",
                    "calibration_intercept", "sensitivity", "specificity", "ppv", "npv")
    headline = (("AUROC", "auroc"), ("calibration slope", "calibration_slope"))


class ContinuousTask(Task):
    name = "continuous"
    estimator_role = "regressor"
    glm = "gaussian"
    effect_measure = "kPa of PPT change"
    effect_null = 0.0
    risk_sign = -1.0  # a smaller predicted change (less hypoalgesia) is the higher risk
    card_metrics = ("r2", "rmse", "mae", "change_calibration_slope", "pi_coverage",
                    "pi_width", "auroc", "brier", "calibration_slope",
                    "calibration_intercept")
    headline = (("RMSE (kPa)", "rmse"), ("interval coverage", "pi_coverage"))
    # log_loss and brier rank as the mean squared error does (with one residual
    # variance: the Gaussian log score and the CRPS), so they select by rmse
    selection_keys = {"log_loss": ("rmse", True), "brier": ("rmse", True),
                      "rmse": ("rmse", True), "mae": ("mae", True), "r2": ("r2", False)}
    table_columns = ("r2", "rmse", "pi_coverage", "auroc", "brier", "calibration_slope")
    explanation_unit = "kPa of predicted PPT change"

    def table_caption(self, config):
        return (f"PPT change; {config.continuous.interval:.0%} interval; AUROC, Brier and "
                f"calibration slope of P(change <= {config.label.threshold_kpa:g} kPa)")

    def impaired_event(self, y, label):
        return (y <= label.threshold_kpa).astype(int)

    def uncalibrated_outputs(self, residuals):
        return ContinuousOutputs(ResidualDistribution().fit(residuals), 0.0, 0.5)

    def summary(self, y):
        return {"change_kpa": {"mean": round(float(np.mean(y)), 2),
                               "sd": round(float(np.std(y, ddof=1)), 2),
                               "median": round(float(np.median(y)), 2)}}

    def summary_lines(self, summary, config, covariate):
        lines = [f"    change: mean {summary['change_kpa']['mean']:.1f} kPa, SD "
                 f"{summary['change_kpa']['sd']:.1f} kPa; "
                 + ("adjusted for the pre-exercise PPT (ANCOVA)" if covariate
                    else "not adjusted for the pre-exercise PPT")]
        if config.calibration.method != "auto":
            lines.append(f"    calibration.method {config.calibration.method} is not used: "
                         "a continuous model's interval and probability come from its "
                         "out-of-fold residuals")
        return lines

    def sample_size_event(self, y, label):
        # the binary event the model is read for (conservative: a model of the change
        # needs fewer rows than its dichotomised outcome)
        return (self.impaired_event(y, label),
                f"impaired EIH (change <= {label.threshold_kpa:g} kPa)")

    def check_metric(self, key, metric):
        if metric == "roc_auc":
            raise ValueError(f"{key} roc_auc needs a binary or three-class outcome; use "
                             "mse, rmse or mae (tuning) or rmse, mae or r2 (selection) "
                             "for label rule continuous")

    def check_config(self, config):
        label = config.label
        if config.continuous.adjust_for_pre and (label.measure != "ppt"
                                                 or label.site != "local"):
            raise ValueError(f"continuous.adjust_for_pre adjusts for eih_ppt_pre_kpa, the "
                             f"local pre-exercise PPT; the outcome here is "
                             f"{label.outcome_definition()}: set continuous.adjust_for_pre "
                             "false")

    def covariates(self, config):
        return (PRE_COVARIATE,) if config.continuous.adjust_for_pre else ()

    def splitter(self, n_folds, seed, *, grouped=False):
        from sklearn.model_selection import GroupKFold, KFold

        if grouped:
            return GroupKFold(n_folds, shuffle=True, random_state=seed)
        return KFold(n_folds, shuffle=True, random_state=seed)

    def repeated_splitter(self, n_folds, n_repeats, seed):
        from sklearn.model_selection import RepeatedKFold

        return RepeatedKFold(n_splits=n_folds, n_repeats=n_repeats, random_state=seed)

    def tuning_score(self, metric, y, z):
        # log_loss and brier give the mean squared error: with one residual variance for
        # every row (the Gaussian log score, the CRPS) both rank models as the MSE does
        error = np.asarray(y, dtype="float64") - np.asarray(z, dtype="float64")
        if metric == "mae":
            return float(np.mean(np.abs(error)))
        mse = float(np.mean(error**2))
        return float(np.sqrt(mse)) if metric == "rmse" else mse

    def row_losses(self, metric, y, predicted):
        # squared error (rmse, r2 and the Gaussian scores rank as the MSE does) or absolute
        error = np.asarray(y, dtype="float64") - np.asarray(predicted, dtype="float64")
        loss = np.abs(error) if metric == "mae" else error**2
        return loss.reshape(-1, loss.shape[-1]).mean(axis=0)

    def selection_predictions(self, outer, name):
        return outer.outputs[name]["predicted_change_kpa"]

    def oof_predictions(self, fitted):
        return fitted.raw_oof

    def calibrate(self, config, raw_oof, y, *, X=None, groups=None, seed=0,
                  site_groups=None):
        """The predictive distribution from out-of-fold predictions (see
        :mod:`eihpredict.modeling._outputs`): ``continuous.interval_method``
        ``location_scale`` fits a scale model on the rows ``X`` (cross-fitted for the
        standardised residuals) and conformalises them per stratum of
        ``continuous.stratify_by``; ``conformal`` (or no rows given) keeps one residual
        distribution."""

        rule, settings = config.threshold, config.continuous
        threshold_kpa = config.label.threshold_kpa
        residuals = np.asarray(y, dtype="float64") - raw_oof
        if settings.interval_method == "conformal" or X is None:
            distribution = ResidualDistribution(settings.interval).fit(residuals)
            p = distribution.cdf(threshold_kpa - raw_oof)
            scale, scale_params, method = None, None, "conformal"
        else:
            stratifier = settings.stratify_by
            if stratifier is not None and stratifier not in X.columns:
                raise ValueError(f"continuous.stratify_by {stratifier}: the training rows "
                                 f"have no column {stratifier!r}")
            scale, log_scale, scale_params = _fit_scale(config, X, residuals, groups or [],
                                                        seed, site_groups)
            spread = np.exp(log_scale)
            strata = None if stratifier is None else X[stratifier].to_numpy(dtype=object)
            distribution = LocationScaleDistribution(settings.interval, stratifier).fit(
                residuals / spread, strata)
            p = distribution.cdf((threshold_kpa - raw_oof) / spread, strata)
            method = "location_scale"
        threshold = choose_threshold((y <= threshold_kpa).astype(int), p, rule.rule,
                                     value=rule.value, min_sensitivity=rule.min_sensitivity)
        return (ContinuousOutputs(distribution, threshold_kpa, threshold, scale, scale_params),
                None, threshold, method)

    def subgroup_intervals(self, subgroups, frame, y, outputs):
        """Add ``pi_coverage`` and ``pi_width`` (mean, kPa) of the prediction interval to
        each row of a subgroup table (:func:`~eihpredict.modeling.subgroup_metrics`:
        ``variable``, ``level``) and an ``all`` row; ``outputs``: output columns of
        shape (n,) or (repeats, n) (outer CV), or a callable giving them."""
        import pandas as pd

        outputs = outputs() if callable(outputs) else outputs
        low = np.atleast_2d(np.asarray(outputs["change_pi_low"], dtype="float64"))
        high = np.atleast_2d(np.asarray(outputs["change_pi_high"], dtype="float64"))
        y = np.asarray(y, dtype="float64")
        inside = (y >= low) & (y <= high)
        width = high - low

        def figures(mask):
            return {"pi_coverage": float(np.mean(inside[:, mask])),
                    "pi_width": float(np.mean(width[:, mask]))}

        table = subgroups.copy()
        if len(table):
            values = {column: frame[column].astype("object").fillna("missing").to_numpy()
                      for column in table["variable"].unique() if column in frame}
            extra = [figures(values[r.variable] == r.level) if r.variable in values
                     else {"pi_coverage": np.nan, "pi_width": np.nan}
                     for r in table.itertuples()]
            table = pd.concat([table.reset_index(drop=True), pd.DataFrame(extra)], axis=1)
        whole = {"variable": "all", "level": "all", "n": len(y),
                 **figures(np.ones(len(y), dtype=bool))}
        return pd.concat([pd.DataFrame([whole]), table], ignore_index=True)

    def validation_metrics(self, y, probabilities, outputs, threshold, decisions, label, *,
                           n_boot, seed, clusters=None):
        table = bootstrap_continuous_metrics(y, outputs, label.threshold_kpa, threshold,
                                             decisions=decisions, n_boot=n_boot, seed=seed,
                                             clusters=clusters)
        return table, outputs["p_impaired_eih"]

    def validation_plots(self, y, outer, metrics, chosen, config, folder, fmt):
        plots = super().validation_plots(y, outer, metrics, chosen, config, folder, fmt)
        plots["change.png"] = plot_change(y, outer.outputs[chosen], config.continuous.interval,
                                          chosen, folder / "change.png")
        return plots

    def external_metrics(self, model, frame, y, label_rule, *, n_boot, seed):
        outputs = model.predict(model.batch(frame))
        threshold_kpa = float(label_rule.get("threshold_kpa", 0.0))
        event = (y <= threshold_kpa).astype(int)
        p = np.clip(outputs["p_impaired_eih"], _EPS, 1 - _EPS)
        change = continuous_metrics(y, outputs["predicted_change_kpa"],
                                    pi_low=outputs["change_pi_low"],
                                    pi_high=outputs["change_pi_high"])
        # The change's own calibration rows are named apart from the probability's.
        change["metric"] = change["metric"].replace({
            "calibration_slope": "change_calibration_slope",
            "calibration_intercept": "change_calibration_intercept",
            "calibration_in_the_large": "change_calibration_in_the_large"})
        binary = binary_metrics(event, p, model.threshold, n_boot=n_boot, seed=seed)
        return pd.concat([change, binary], ignore_index=True), event, p

    def card_lines(self, metadata):
        rule, cal = metadata["label_rule"], metadata["calibration"]
        threshold = metadata["threshold"]
        level = cal.get("level", 0.8)
        return {
            "predicts": "the **post-exercise PPT change** (kPa, post - pre) with a "
                        f"{level:.0%} prediction interval and the derived probability of "
                        f"impaired EIH, P(change <= {rule['threshold_kpa']:g} kPa)",
            "calibration": _continuous_calibration_line(cal),
            "threshold": f"- Decision threshold on P(impaired EIH): {threshold['value']:.3f} "
                         f"({threshold['rule']} rule, chosen on out-of-fold predictions).",
            "subgroups": "AUROC of the derived P(impaired EIH)",
        }


class ThreeClassTask(Task):
    name = "three_class"
    n_outputs = 3
    glm = "multinomial"
    event = "hyperalgesia vs rest"
    event_short = "hyperalgesia"
    effect_measure = "odds ratio of hyperalgesia"
    explain_output = 2  # the hyperalgesia logit: the flare clinicians most want to foresee
    card_metrics = ("auroc_hypoalgesia", "auroc_no_change", "auroc_hyperalgesia",
                    "auroc_macro", "calibration_slope_hypoalgesia",
                    "calibration_slope_no_change", "calibration_slope_hyperalgesia", "brier",
                    "log_loss", "accuracy")
    headline = (("macro AUROC", "auroc_macro"), ("AUROC hyperalgesia", "auroc_hyperalgesia"))
    external_auroc = "auroc_hyperalgesia"
    selection_keys = {"log_loss": ("log_loss", True), "brier": ("brier", True),
                      "roc_auc": ("auroc_macro", False)}
    table_columns = ("auroc_hypoalgesia", "auroc_no_change", "auroc_hyperalgesia",
                     "auroc_macro", "brier", "log_loss")
    explanation_unit = "logit of hyperalgesia"

    def table_caption(self, config):
        return "three classes, one vs rest"

    def impaired_event(self, y, label):
        return (y >= 1).astype(int)

    def binary_view(self, y, probabilities, label):
        return (y == 2).astype(int), np.asarray(probabilities)[..., 2]

    def effect_target(self, y):
        return (np.asarray(y) == 2).astype("float64")  # hyperalgesia against the rest

    def uncalibrated_outputs(self, residuals):
        return ThreeClassOutputs(MulticlassCalibrator("none").fit(np.zeros((1, 3)),
                                                                  np.zeros(1)))

    def check_outcome(self, y, source, label):
        super().check_outcome(y, source, label)
        if len(np.unique(y)) < 3:
            missing = [c for j, c in enumerate(THREE_CLASSES) if not np.any(y == j)]
            raise ValueError(f"{source}: no row in class {', '.join(missing)} under the "
                             f"label rule ({label.describe()}); three classes need all "
                             "three")

    def summary(self, y):
        return {"classes": {name: int(np.sum(y == j)) for j, name in enumerate(THREE_CLASSES)}}

    def summary_lines(self, summary, config, covariate):
        return ["    classes: " + ", ".join(f"{k} {v}" for k, v in summary["classes"].items())]

    def sample_size_event(self, y, label):
        # the rarest class against the rest (the hardest binary sub-problem)
        rarest = int(np.argmin(np.bincount(y.astype(int), minlength=3)))
        return (y == rarest).astype(int), f"{THREE_CLASSES[rarest]} against the rest"

    def check_config(self, config):
        if config.calibration.method == "isotonic":
            raise ValueError("calibration.method isotonic is for binary outcomes; three "
                             "classes use auto or sigmoid (vector scaling), temperature or "
                             "none")

    def tuning_score(self, metric, y, z):
        # z: logits (n, K); log_loss is the multinomial log loss, brier sums the squared
        # errors over classes, roc_auc is the mean one-vs-rest AUROC

        z = np.asarray(z, dtype="float64")
        z = z - z.max(axis=1, keepdims=True)
        p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
        y = np.asarray(y).astype(int)
        onehot = np.eye(p.shape[1])[y]
        if metric == "roc_auc":
            return float(np.nanmean([_auroc(onehot[:, k], p[:, k]) for k in range(p.shape[1])]))
        if metric == "brier":
            return float(np.mean(((p - onehot) ** 2).sum(axis=1)))
        return float(-np.mean(np.log(np.clip(p[np.arange(len(y)), y], _EPS, 1))))

    def selection_score(self, metric, y, fitted):
        if metric == "roc_auc":  # the mean one-vs-rest AUROC of the raw logits, negated
            return -self.tuning_score(metric, y, fitted.raw_oof)
        return super().selection_score(metric, y, fitted)

    def row_losses(self, metric, y, predicted):
        if metric == "roc_auc":
            return None
        p = np.asarray(predicted, dtype="float64")
        p = p.reshape(-1, *p.shape[-2:])  # (repeats, n, K)
        y = np.asarray(y).astype(int)
        if metric == "brier":
            loss = ((p - np.eye(p.shape[-1])[y]) ** 2).sum(axis=-1)
        else:
            loss = -np.log(np.clip(p[:, np.arange(len(y)), y], _EPS, 1))
        return loss.mean(axis=0)

    def selection_predictions(self, outer, name):
        return outer.probabilities[name]

    def oof_predictions(self, fitted):
        z = np.asarray(fitted.raw_oof, dtype="float64")
        z = z - z.max(axis=1, keepdims=True)
        return np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)

    def calibrate(self, config, raw_oof, y, *, X=None, groups=None, seed=0,
                  site_groups=None):
        method = MULTICLASS_METHODS[config.calibration.method]
        classes = MulticlassCalibrator(method).fit(raw_oof, y)
        return ThreeClassOutputs(classes), None, float("nan"), method

    def threshold_rule(self, config):
        return "most probable class"

    def validation_metrics(self, y, probabilities, outputs, threshold, decisions, label, *,
                           n_boot, seed, clusters=None):
        table = bootstrap_three_class_metrics(y, probabilities, decisions=decisions,
                                              n_boot=n_boot, seed=seed, clusters=clusters)
        return table, probabilities

    def validation_plots(self, y, outer, metrics, chosen, config, folder, fmt):
        aurocs = {name: {c: fmt(table, f"auroc_{c}") for c in THREE_CLASSES}
                  for name, table in metrics.items()}
        return {
            "roc.png": plot_three_class_roc(y, outer.probabilities, aurocs,
                                            folder / "roc.png", seed=config.seed),
            "calibration.png": plot_three_class_calibration(y, outer.probabilities,
                                                            folder / "calibration.png"),
        }

    def decision_line(self, threshold, rule):
        return "Predicted class (eih_class): the most probable one."

    def external_metrics(self, model, frame, y, label_rule, *, n_boot, seed):
        outputs = model.predict(model.batch(frame))
        P = model.outputs_map.probability(outputs)
        return multiclass_metrics(y, P), (y == 2).astype(int), np.clip(P[:, 2], _EPS,
                                                                          1 - _EPS)

    def external_decision(self, threshold):
        return ("predicted class: the most probable; calibration and decision curves: "
                "hyperalgesia against the rest")

    def card_lines(self, metadata):
        cal = metadata["calibration"]
        return {
            "predicts": "the probabilities of **hypoalgesia, no change and hyperalgesia** "
                        "after exercise (summing to 1) and the most probable class",
            "calibration": f"{cal['method']} scaling of the out-of-fold class logits",
            "threshold": "- Predicted class (`eih_class`): the most probable one.",
            "subgroups": "AUROC of P(hyperalgesia) against the other two classes",
        }


def _continuous_calibration_line(cal: dict[str, Any]) -> str:
    """The model card's sentence on a continuous model's predictive distribution."""
    if cal.get("interval_method") == "location_scale":
        strata = cal.get("strata") or {}
        if cal.get("prior_rows") is None:  # empirical-Bayes stratum scales
            factors = ", ".join(f"{key} x{part['factor']:.2f}" for key, part in strata.items()
                                if part.get("own_factor"))
            pooling = (f"each stratum's own spread, shrunk by how much the strata differ "
                       f"beyond chance (at least a 200-row prior's share kept): {factors}"
                       if factors else "pooled")
        else:
            pooling = (f"partially pooled: {cal['prior_rows']:g} rows' weight on all "
                       "strata's")
        by = (f", conformalised within each {cal['stratify_by']} ({pooling})"
              if cal.get("stratify_by") else "")
        chosen = cal.get("scale_model") or {}
        on = ("the features" if chosen.get("C", 1) > 1e-6 else
              "the features; cross-validation chose a constant: no dependence beyond noise")
        return (f"location-scale: the predicted change plus its own spread s(x) (a ridge "
                f"model of the log absolute out-of-fold residual on {on}, chosen by "
                f"cross-validation) times "
                f"the {cal.get('n_residuals')} standardised out-of-fold residuals{by}; "
                f"pooled interval {cal.get('interval_low', 0):+.2f} to "
                f"{cal.get('interval_high', 0):+.2f} s(x) around the prediction"
                + (f", {len(strata)} {'stratum' if len(strata) == 1 else 'strata'}"
                   if strata else "")
                + "; P(impaired) from the row's smoothed distribution function")
    return (f"the predictive distribution is the predicted change plus the "
            f"{cal.get('n_residuals')} out-of-fold residuals (conformal interval "
            f"{cal.get('interval_low', 0):+.1f} to {cal.get('interval_high', 0):+.1f} kPa "
            "around the prediction; P(impaired) from their smoothed distribution function)")


#: The scale model of a location-scale continuous model: a ridge regression (the linear
#: family's) of the log absolute residual, its penalty chosen by cross-validation from
#: this grid, strongest first (``C``: inverse penalty; ``1e-9`` leaves coefficients
#: below a millionth of the target's SD, a constant scale: the choice when the spread
#: does not depend on the features beyond what cross-validation can tell from noise).
SCALE_FAMILY = "logistic"
SCALE_C_GRID = (1e-9, 2e-5, 0.0002, 0.002, 0.01, 0.05, 0.25)


def _fit_scale(config, X, residuals: np.ndarray, groups: list[str], seed: int,
               site_groups) -> tuple[Any, np.ndarray, dict[str, Any]]:
    """The scale pipeline fitted on all rows, the cross-fitted log scale of each row
    (predicted by a scale model that did not see it, so the standardised residuals stay
    exchangeable with new rows') and the chosen penalty. The ridge penalty is the grid's
    (:data:`SCALE_C_GRID`) by the cross-validated squared error of the log absolute
    residual (one-standard-error rule)."""
    from ..features import build_feature_pipeline
    from ._estimators import get_family, make_pipeline
    from ._tuning import inner_splits

    magnitude = np.abs(residuals)
    target = np.log(magnitude + 0.05 * (float(np.median(magnitude)) or 1.0))
    family = get_family(SCALE_FAMILY)
    options = config.features.options
    predicted = np.zeros((len(SCALE_C_GRID), len(target)))
    for train, val in inner_splits(X, target, config.calibration.folds, seed + 2,
                                   site_groups, "continuous"):
        # the features once per fold, then the grid's penalties on them
        features = build_feature_pipeline(list(groups), model_kind=family.flavour,
                                          options=options).fit(X.iloc[train], target[train])
        design_train = features.transform(X.iloc[train])
        design_val = features.transform(X.iloc[val])
        for j, c in enumerate(SCALE_C_GRID):
            estimator = family.estimator("continuous", {"C": c, "l1_ratio": 0.0}, seed)
            predicted[j, val] = estimator.fit(design_train, target[train]).predict(design_val)
    # The one-standard-error rule: the strongest penalty whose cross-validated error is
    # within one (paired) standard error of the best (a spread that does not depend on the
    # features should give a constant scale, not fitted noise).
    errors = (predicted - target) ** 2
    mean = errors.mean(axis=1)
    best = int(np.argmin(mean))
    n = errors.shape[1]
    chosen = next(j for j in range(len(SCALE_C_GRID))
                  if mean[j] - mean[best] <= np.std(errors[j] - errors[best], ddof=1)
                  / np.sqrt(n))
    scale = make_pipeline(SCALE_FAMILY, list(groups), {"C": SCALE_C_GRID[chosen],
                                                       "l1_ratio": 0.0},
                          seed=seed, feature_options=options, task="continuous")
    return (scale.fit(X, target), predicted[chosen],
            {"C": SCALE_C_GRID[chosen], "cv_mse": [round(float(v), 5) for v in mean]})


#: Registered tasks by name.
TASKS: dict[str, Task] = {}


def register_task(task: Task) -> Task:
    """Add ``task`` to :data:`TASKS` (its ``name`` must be new); returns it."""
    if task.name in TASKS:
        raise ValueError(f"task {task.name!r} is already registered")
    TASKS[task.name] = task
    return task


for _task in (BinaryTask(), ContinuousTask(), ThreeClassTask()):
    register_task(_task)


def get_task(task: str | Task) -> Task:
    """The task object of a name (a task object is returned as is).

    Examples
    --------
    >>> get_task("continuous").estimator_role
    'regressor'
    >>> get_task("three_class").n_outputs
    3
    """
    if isinstance(task, Task):
        return task
    try:
        return TASKS[task]
    except KeyError:
        raise ValueError(f"Got task={task!r}; expected one of {', '.join(TASKS)}.") from None

"""External-validation metrics against R (rms::val.prob, glm, pROC, lm, t.test, prop.test).

R reference values: tests/data/r/reference_values.json, written by reference.R from the
stored cases (well calibrated, shifted and overconfident, n = 40, tied predictions).
Point estimates agree to 1e-6 and intervals to 1e-4 (in practice ~1e-9: R's glm was run
to convergence 1e-14). One documented difference: rms::val.prob's ``C (ROC)`` comes from
``lrm.fit``, which bins the predictions before ranking, so it is within 1e-4 of the exact
Mann-Whitney C that pROC, Hmisc::somers2, scikit-learn and this package compute.
"""

from __future__ import annotations

from functools import partial

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from scipy.special import expit, logit
from sklearn.metrics import average_precision_score, log_loss, roc_auc_score

from eihpredict.modeling import (
    BINARY_METRICS,
    binary_metrics,
    binary_point_estimates,
    cluster_bootstrap,
    continuous_metrics,
    flexible_calibration_curve,
    multiclass_metrics,
    net_benefit_curve,
    recalibrate_logistic,
)

BINARY_CASES = {"calibrated": "binary_calibrated", "shifted": "binary_shifted",
                "small": "binary_small", "ties": "binary_ties"}
CLASSES = ["hypoalgesia", "no_change", "hyperalgesia"]
POINT, INTERVAL = 1e-6, 1e-4


def _check(row: pd.Series, ref: list[float]) -> None:
    assert_allclose(row["estimate"], ref[0], rtol=0, atol=POINT)
    assert_allclose(row[["ci_low", "ci_high"]].to_numpy(float), ref[1:], rtol=0, atol=INTERVAL)


@pytest.mark.parametrize("case", sorted(BINARY_CASES))
def test_binary_metrics_equal_r(case, r_reference, r_case):
    data = r_case(BINARY_CASES[case])
    ref = r_reference["binary"][case]
    table = binary_metrics(data.y, data.p, r_reference["threshold"], n_boot=0)
    assert table.columns.tolist() == ["metric", "estimate", "ci_low", "ci_high"]
    assert table.metric.tolist() == list(BINARY_METRICS)
    table = table.set_index("metric")
    for metric, values in ref["metrics"].items():
        _check(table.loc[metric], values)
    # rms::val.prob: Brier and slope exactly, intercept of the recalibration model
    vp = ref["val_prob"]
    assert_allclose(table.loc["brier", "estimate"], vp["Brier"], atol=POINT)
    assert_allclose(table.loc["calibration_slope", "estimate"], vp["Slope"], atol=POINT)
    recal = recalibrate_logistic(logit(data.p), data.y)
    assert_allclose(recal.intercept, vp["Intercept"], atol=POINT)
    assert_allclose(recal.loglik, ref["recalibration"]["loglik"], atol=POINT)
    # exact C: Hmisc::somers2; val.prob's C is lrm.fit's binned statistic (module docstring)
    assert_allclose(table.loc["auroc", "estimate"], ref["somers2_C"], atol=1e-9)
    assert_allclose(table.loc["auroc", "estimate"], vp["C (ROC)"], atol=1e-4)
    assert_allclose(2 * table.loc["auroc", "estimate"] - 1, vp["Dxy"], atol=2e-4)


@pytest.mark.parametrize("case", ["calibrated", "shifted", "ties"])
def test_flexible_calibration_curve_equals_r_spline_glm(case, r_reference, r_case):
    data = r_case(BINARY_CASES[case])
    ref = r_reference["binary"][case]["calibration_curve"]
    curve = flexible_calibration_curve(data.y, data.p, grid=ref["predicted"])
    assert_allclose(curve["observed"], ref["observed"], atol=POINT)
    assert_allclose(curve[["ci_low", "ci_high"]].to_numpy(), np.column_stack(
        [ref["ci_low"], ref["ci_high"]]), atol=INTERVAL)


@pytest.mark.parametrize("case", sorted(BINARY_CASES))
def test_net_benefit_equals_r(case, r_reference, r_case):
    data = r_case(BINARY_CASES[case])
    ref = r_reference["binary"][case]["net_benefit"]
    curve = net_benefit_curve(data.y, data.p, ref["threshold"])
    assert_allclose(curve["net_benefit"], ref["net_benefit"], atol=POINT)
    assert_allclose(curve[["ci_low", "ci_high"]].to_numpy(), np.column_stack(
        [ref["ci_low"], ref["ci_high"]]), atol=INTERVAL)
    prevalence = data.y.mean()
    odds = curve.threshold / (1 - curve.threshold)
    assert_allclose(curve.treat_all, prevalence - (1 - prevalence) * odds)


def test_continuous_metrics_equal_r(r_reference, r_case):
    data = r_case("continuous")
    ref = r_reference["continuous"]
    table = continuous_metrics(data.y, data.predicted, pi_low=data.pi_low,
                               pi_high=data.pi_high).set_index("metric")
    assert_allclose(table.loc["r2", "estimate"], ref["r2"], atol=POINT)
    for metric in ("rmse", "mae", "calibration_slope", "calibration_intercept",
                   "calibration_in_the_large", "pi_coverage", "pi_width"):
        _check(table.loc[metric], ref[metric])


def test_continuous_r2_interval_agrees_with_a_bootstrap(r_case):
    # The delta-method interval of R2 has no R counterpart; check it against 2000
    # bootstrap replicates of the same statistic (percentile limits within 0.01).
    data = r_case("continuous")
    y, yhat = data.y.to_numpy(), data.predicted.to_numpy()
    table = continuous_metrics(y, yhat).set_index("metric")
    rng = np.random.default_rng(5)
    idx = rng.integers(0, len(y), (2000, len(y)))
    e = y[idx] - yhat[idx]
    r2 = 1 - (e**2).sum(1) / ((y[idx] - y[idx].mean(1, keepdims=True)) ** 2).sum(1)
    lo, hi = np.quantile(r2, [0.025, 0.975])
    assert_allclose(table.loc["r2", ["ci_low", "ci_high"]].to_numpy(float), [lo, hi], atol=0.01)


def test_multiclass_metrics_equal_r(r_reference, r_case):
    data = r_case("multiclass")
    ref = r_reference["multiclass"]
    proba = data[[f"p_{c}" for c in CLASSES]].to_numpy()
    table = multiclass_metrics(data.y, proba).set_index("metric")
    for metric, values in ref.items():
        if metric == "auroc_macro_estimate":
            assert_allclose(table.loc["auroc_macro", "estimate"], values, atol=POINT)
        else:
            _check(table.loc[metric], values)
    # class codes work as well as names
    codes = data.y.map({c: i for i, c in enumerate(CLASSES)}).to_numpy()
    assert_allclose(multiclass_metrics(codes, proba).estimate, table.estimate.to_numpy())


def test_multiclass_macro_auroc_interval_agrees_with_a_bootstrap(r_case):
    data = r_case("multiclass")
    proba = data[[f"p_{c}" for c in CLASSES]].to_numpy()
    codes = data.y.map({c: i for i, c in enumerate(CLASSES)}).to_numpy()
    row = multiclass_metrics(codes, proba).set_index("metric").loc["auroc_macro"]

    def macro(c, P, sample_weight):
        return np.mean([roc_auc_score(c == k, P[:, k], sample_weight=sample_weight)
                        for k in range(3)])

    boot = cluster_bootstrap(macro, codes, proba, n_boot=1000, seed=3).iloc[0]
    assert_allclose([row.ci_low, row.ci_high], [boot.ci_low, boot.ci_high], atol=0.01)
    assert_allclose(row.estimate, boot.estimate)


def test_binary_point_estimates_match_scikit_learn_with_weights():
    rng = np.random.default_rng(0)
    p = expit(rng.normal(-0.3, 1.3, 800))
    y = (rng.random(800) < p).astype(int)
    p = np.round(p, 2).clip(0.01, 0.99)  # ties
    w = rng.integers(0, 4, 800).astype(float)
    est = binary_point_estimates(y, p, 0.3, sample_weight=w)
    assert_allclose(est["auroc"], roc_auc_score(y, p, sample_weight=w), rtol=1e-12)
    assert_allclose(est["auprc"], average_precision_score(y, p, sample_weight=w), rtol=1e-12)
    assert_allclose(est["log_loss"], log_loss(y, p, sample_weight=w), rtol=1e-12)
    # weights are frequency weights: the same as repeating rows
    rep = np.repeat(np.arange(800), w.astype(int))
    table = binary_metrics(y[rep], p[rep], 0.3, n_boot=0).set_index("metric")
    for metric in BINARY_METRICS:
        if metric != "auprc":
            assert_allclose(est[metric], table.loc[metric, "estimate"], rtol=1e-8)
    # a (B, n) weight matrix gives one value per row
    batch = binary_point_estimates(y, p, 0.3, sample_weight=np.vstack([w, np.ones(800)]))
    assert_allclose(batch["calibration_slope"][0], est["calibration_slope"], rtol=1e-8)


def test_auprc_bootstrap_interval_covers_and_is_reproducible(r_case):
    data = r_case("binary_calibrated")
    first = binary_metrics(data.y, data.p, n_boot=500, seed=1).set_index("metric")
    again = binary_metrics(data.y, data.p, n_boot=500, seed=1).set_index("metric")
    row = first.loc["auprc"]
    assert_allclose(row.estimate, average_precision_score(data.y, data.p))
    assert row.ci_low < row.estimate < row.ci_high
    assert row.ci_high - row.ci_low < 0.15
    pd.testing.assert_frame_equal(first, again)
    assert "sensitivity" not in first.index  # no threshold, no threshold metrics


def test_shifted_case_is_flagged_as_miscalibrated(r_case):
    # predictions expit(-0.5 + 1.8 lp) for true risk expit(lp): too extreme, too low
    data = r_case("binary_shifted")
    table = binary_metrics(data.y, data.p, n_boot=0).set_index("metric")
    assert table.loc["calibration_slope", "ci_high"] < 1
    curve = flexible_calibration_curve(data.y, data.p, grid=[0.1, 0.9])
    assert curve.observed[0] > 0.1 and curve.observed[1] < 0.9  # flatter than the diagonal


@pytest.mark.parametrize(("y", "p", "match"), [
    ([0, 1, 2], [0.1, 0.5, 0.6], "y=2 at row 2; expected 0 or 1"),
    ([0, 1, 1], [0.1, 1.0, 0.6], r"p=1\.0 at row 1"),
    ([0, 1, 1], [0.1, np.nan, 0.6], "p=nan at row 1"),
    ([0, 1, 1], [0.1, 0.5], "2 rows and y with 3"),
    ([1, 1, 1], [0.1, 0.5, 0.6], "only events"),
])
def test_binary_metrics_reject_bad_input(y, p, match):
    with pytest.raises(ValueError, match=match):
        binary_metrics(y, p)


def test_multiclass_rejects_rows_not_summing_to_one():
    proba = np.array([[0.2, 0.3, 0.5], [0.3, 0.3, 0.3]])
    with pytest.raises(ValueError, match="summing to 0.9.* at row 1"):
        multiclass_metrics(["hypoalgesia", "hyperalgesia"], proba)
    with pytest.raises(ValueError, match="y='worse' at row 1"):
        multiclass_metrics(["hypoalgesia", "worse"], proba[:1].repeat(2, 0))


def test_continuous_rejects_inverted_prediction_interval():
    with pytest.raises(ValueError, match="row 1; expected finite bounds"):
        continuous_metrics([1.0, 2.0, 3.0], [1.0, 2.0, 2.5], pi_low=[0, 3, 1],
                           pi_high=[2, 1, 4])


def test_batched_bootstrap_of_20000_clustered_rows_equals_the_replicate_loop():
    """The vectorised path (weights of shape (batch, n)) gives, replicate for replicate,
    the intervals of calling the metric once per replicate, at every batch size."""
    rng = np.random.default_rng(1)
    lp = rng.normal(-0.5, 1.2, 20_000)
    y = (rng.random(20_000) < expit(lp)).astype(int)
    p = expit(0.3 + 1.4 * lp)
    clusters = rng.integers(0, 10, 20_000)
    statistic = partial(binary_point_estimates, threshold=0.4)
    loop = cluster_bootstrap(statistic, y, p, clusters=clusters, n_boot=30)
    for batch_size in (7, 30):
        batched = cluster_bootstrap(statistic, y, p, clusters=clusters, n_boot=30,
                                    batch_size=batch_size)
        assert batched.metric.tolist() == list(BINARY_METRICS)
        columns = ["estimate", "ci_low", "ci_high"]
        np.testing.assert_allclose(batched[columns], loop[columns], rtol=0, atol=1e-9)
    assert (loop.ci_low < loop.ci_high).all()

"""Metrics against scikit-learn, calibration, thresholds and decision curves."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

from eihpredict.modeling import (
    Calibrator,
    bootstrap_metrics,
    calibration_slope_intercept,
    choose_threshold,
    decision_curve,
    point_metrics,
    resolve_method,
)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(3)
    z = rng.normal(0, 1.2, 3000)
    y = (rng.random(3000) < 1 / (1 + np.exp(-z))).astype(int)
    return y, 1 / (1 + np.exp(-z))


def test_point_metrics_match_scikit_learn(data):
    y, p = data
    m = point_metrics(y, p, 0.5)
    assert_allclose(m["auroc"], roc_auc_score(y, p))
    assert_allclose(m["auprc"], average_precision_score(y, p))
    assert_allclose(m["brier"], brier_score_loss(y, p))
    assert_allclose(m["log_loss"], log_loss(y, p))
    pred = p >= 0.5
    assert_allclose(m["sensitivity"], (pred & (y == 1)).sum() / (y == 1).sum())


def test_calibration_slope_and_intercept_detect_overconfidence(data):
    y, p = data
    slope, intercept = calibration_slope_intercept(y, p)
    assert abs(slope - 1) < 0.1 and abs(intercept) < 0.1
    z = np.log(p / (1 - p))
    over = 1 / (1 + np.exp(-3 * z))
    slope, _ = calibration_slope_intercept(y, over)
    assert abs(slope - 1 / 3) < 0.05
    _, shifted = calibration_slope_intercept(y, 1 / (1 + np.exp(-(z + 1))))
    assert abs(shifted + 1) < 0.1


def test_bootstrap_intervals_contain_the_estimate_and_narrow_with_n(data):
    y, p = data
    wide = bootstrap_metrics(y[:300], p[:300], 0.5, n_boot=100)
    narrow = bootstrap_metrics(y, p, 0.5, n_boot=100)
    assert ((wide["ci_low"] <= wide["estimate"]) & (wide["estimate"] <= wide["ci_high"])).all()
    width = lambda t: (t["ci_high"] - t["ci_low"]).loc["auroc"]  # noqa: E731
    assert width(narrow) < width(wide)


def test_sigmoid_calibrator_repairs_overconfident_scores(data):
    y, p = data
    z = 3 * np.log(p / (1 - p))
    calibrator = Calibrator("sigmoid").fit(z, y)
    slope, _ = calibration_slope_intercept(y, calibrator.predict(z))
    assert abs(slope - 1) < 0.05
    assert Calibrator("temperature").fit(z, y).intercept_ == 0.0


def test_isotonic_calibrator_is_monotone(data):
    y, p = data
    z = np.log(p / (1 - p))
    out = Calibrator("isotonic").fit(z, y).predict(np.sort(z))
    assert (np.diff(out) >= 0).all()


def test_auto_calibration_by_cohort_size():
    assert resolve_method("auto", 999) == "sigmoid"
    assert resolve_method("auto", 50_000) == "isotonic"
    with pytest.raises(ValueError, match="method='platt'"):
        Calibrator("platt")


def test_threshold_rules(data):
    y, p = data
    assert choose_threshold(y, p, "fixed", value=0.3) == 0.3
    assert choose_threshold(y, p, "prevalence") == pytest.approx(y.mean())
    t = choose_threshold(y, p, "sensitivity", min_sensitivity=0.9)
    assert (p[y == 1] >= t).mean() >= 0.9
    youden = choose_threshold(y, p, "youden")
    j = lambda t: (p[y == 1] >= t).mean() + (p[y == 0] < t).mean()  # noqa: E731
    assert all(j(youden) >= j(t) - 1e-12 for t in np.linspace(0.05, 0.95, 19))


def test_decision_curve_net_benefit_formula(data):
    y, p = data
    curve = decision_curve(y, p, np.array([0.2, 0.5]), n_boot=20)
    t = 0.2
    treat = p >= t
    expected = ((treat & (y == 1)).sum() - (treat & (y == 0)).sum() * t / (1 - t)) / len(y)
    assert_allclose(curve.loc[0, "net_benefit"], expected)
    assert_allclose(curve.loc[0, "treat_all"], y.mean() - (1 - y.mean()) * 0.25)
    assert (curve["ci_low"] <= curve["net_benefit"]).all()

"""Models with K outputs, output maps and metrics per task, against independent references.

References: SHAP's own TreeExplainer (per-class TreeSHAP), scikit-learn's metrics, the
closed-form ridge solution, known generating processes (temperature and vector scaling),
the conformal coverage guarantee, and the external-validation metrics checked against R
(:mod:`eihpredict.modeling._external`, tests/data/r).
"""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from sklearn.metrics import log_loss, mean_squared_error, r2_score, roc_auc_score

from eihpredict.config import ConfigError, load_config
from eihpredict.labels import LabelRule, make_labels
from eihpredict.modeling import (
    THREE_CLASSES,
    ColumnBatch,
    MulticlassCalibrator,
    PenalisedLinearRegression,
    PipelineScorer,
    ResidualDistribution,
    TrainedModel,
    conformal_interval,
    continuous_metrics,
    continuous_point_metrics,
    make_pipeline,
    multiclass_metrics,
    three_class_point_metrics,
)
from eihpredict.modeling._tuning import tuning_score
from eihpredict.schema import OUTCOME_COLUMNS
from eihpredict.simulate import simulate_cohort
from eihpredict.validation import validate_frame


@pytest.fixture(scope="module")
def cohort():
    frame = validate_frame(simulate_cohort(400, seed=5).frame).frame
    return frame, frame.drop(columns=list(OUTCOME_COLUMNS), errors="ignore")


def _fit(kind, task, X, y, **params):
    pipeline = make_pipeline(kind, ["cpm", "ts", "pcs", "ppt", "sex"],
                             {"n_estimators": 40, **params} if kind == "lightgbm" else params,
                             seed=0, task=task).fit(X, y)
    scorer = PipelineScorer(pipeline)
    return pipeline, scorer, ColumnBatch.from_frame(X, scorer.input_columns)


@pytest.mark.parametrize("kind", ["lightgbm", "logistic"])
def test_three_class_heads_give_logits_and_per_class_shap_adding_up(cohort, kind):
    frame, X = cohort
    y = make_labels(frame, LabelRule(rule="three_class", binary=False)).to_numpy()
    pipeline, scorer, batch = _fit(kind, "three_class", X, y)
    raw = scorer.raw_score(batch)
    contributions = scorer.contributions(batch)
    assert raw.shape == (len(X), 3) and contributions.values.shape[2] == 3
    assert_allclose(contributions.base + contributions.values.sum(axis=1), raw, atol=1e-9)
    # The pipeline's own class probabilities are the softmax of these logits.
    softmax = np.exp(raw) / np.exp(raw).sum(axis=1, keepdims=True)
    assert_allclose(softmax, pipeline.predict_proba(X), atol=1e-9)
    assert contributions.outputs == ["0", "1", "2"]


def test_three_class_tree_shap_equals_shap_tree_explainer(cohort):
    import shap

    frame, X = cohort
    y = make_labels(frame, LabelRule(rule="three_class", binary=False)).to_numpy()
    pipeline, scorer, batch = _fit("lightgbm", "three_class", X, y)
    design = scorer.design(batch)[1][:50]
    reference = shap.TreeExplainer(pipeline.steps[-1][1].booster_).shap_values(design)
    assert_allclose(scorer.contributions(batch).values[:50], np.asarray(reference),
                    atol=1e-9)


@pytest.mark.parametrize("kind", ["lightgbm", "logistic"])
def test_continuous_heads_predict_the_change_in_kpa(cohort, kind):
    frame, X = cohort
    y = make_labels(frame, LabelRule(rule="continuous")).to_numpy()
    pipeline, scorer, batch = _fit(kind, "continuous", X, y)
    raw = scorer.raw_score(batch)
    assert raw.shape == (len(X),)
    assert_allclose(raw, pipeline.predict(X), rtol=1e-9, atol=1e-6)
    c = scorer.contributions(batch)
    assert_allclose(c.base + c.values.sum(axis=1), raw, atol=1e-8)


def test_penalised_linear_regression_is_closed_form_ridge_on_the_standardised_outcome():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(200, 4))
    y = 40 * X[:, 0] - 10 * X[:, 2] + rng.normal(0, 30, 200)
    est = PenalisedLinearRegression(C=0.05).fit(X, y)
    # Reference: ridge on centred data, penalty 1/C on the standardised outcome.
    Xc = X - X.mean(axis=0)
    z = (y - y.mean()) / y.std()
    w = np.linalg.solve(Xc.T @ Xc + (1 / 0.05) * np.eye(4), Xc.T @ z) * y.std()
    assert_allclose(est.coef_, w, rtol=1e-8)
    assert_allclose(est.intercept_, y.mean() - X.mean(axis=0) @ w, rtol=1e-8)
    assert est.coef_[0] > 20  # shrunk, but the signal stays


def test_penalised_linear_regression_refuses_bad_parameters():
    with pytest.raises(ValueError, match="Got C=0"):
        PenalisedLinearRegression(C=0).fit(np.ones((3, 1)), np.arange(3.0))
    with pytest.raises(ValueError, match="l1_ratio"):
        PenalisedLinearRegression(l1_ratio=2).fit(np.ones((3, 1)), np.arange(3.0))


def _multinomial(rng, Z, scale, shift):
    S = Z * scale + shift
    P = np.exp(S) / np.exp(S).sum(axis=1, keepdims=True)
    return (rng.random(len(Z))[:, None] > P.cumsum(axis=1)).sum(axis=1)


def test_vector_scaling_recovers_a_known_miscalibration():
    rng = np.random.default_rng(7)
    Z = rng.normal(0, 2, (20000, 3))
    y = _multinomial(rng, Z, np.array([0.5, 1.0, 2.0]), np.array([0.0, 0.4, -0.6]))
    cal = MulticlassCalibrator("vector").fit(Z, y)
    assert_allclose(cal.scale_, [0.5, 1.0, 2.0], atol=0.08)
    assert_allclose(cal.shift_, [0.0, 0.4, -0.6], atol=0.08)
    P = cal.predict(Z)
    assert_allclose(P.sum(axis=1), 1.0, atol=1e-12)
    # More parameters never fit the calibration data worse.
    losses = [log_loss(y, MulticlassCalibrator(m).fit(Z, y).predict(Z), labels=[0, 1, 2])
              for m in ("none", "temperature", "vector")]
    assert losses[0] >= losses[1] >= losses[2]


def test_residual_distribution_keeps_the_conformal_coverage_guarantee():
    """Exchangeable residuals: the interval from n calibration residuals covers a new one
    with probability between level and level + 2 / (n + 1) (Lei et al. 2018)."""
    rng = np.random.default_rng(11)
    n, level, trials = 49, 0.8, 4000
    hits = 0
    for _ in range(trials):
        r = rng.standard_t(4, n + 1)
        low, high = conformal_interval(r[:n], level)
        hits += low <= r[n] <= high
    assert (ResidualDistribution(level).fit(r[:n]).low_, ResidualDistribution(level).fit(
        r[:n]).high_) == (low, high)
    coverage = hits / trials
    se = np.sqrt(level * (1 - level) / trials)
    assert level - 3 * se <= coverage <= level + 2 / (n + 1) + 3 * se


def test_residual_distribution_cdf_is_the_smoothed_normal_for_normal_residuals():
    from scipy.stats import norm

    r = np.random.default_rng(2).normal(0, 40, 5000)
    dist = ResidualDistribution(0.8).fit(r)
    t = np.array([-80.0, -30.0, 0.0, 25.0, 70.0])
    sd = np.sqrt(r.var(ddof=1) + dist.bandwidth_**2)  # a Gaussian kernel adds h^2
    assert_allclose(dist.cdf(t), norm.cdf(t, r.mean(), sd), atol=8e-3)
    assert dist.cdf(np.array([-1e6]))[0] == 0 and dist.cdf(np.array([1e6]))[0] == 1


def test_continuous_point_metrics_match_scikit_learn_and_the_external_metrics():
    rng = np.random.default_rng(4)
    mu = rng.normal(20, 30, 500)
    y = mu + rng.normal(0, 40, 500)
    m = continuous_point_metrics(y, mu, mu - 51.3, mu + 51.3)
    assert_allclose(m["r2"], r2_score(y, mu))
    assert_allclose(m["rmse"], np.sqrt(mean_squared_error(y, mu)))
    external = continuous_metrics(y, mu, pi_low=mu - 51.3, pi_high=mu + 51.3).set_index(
        "metric")["estimate"]
    for ours, theirs in (("r2", "r2"), ("rmse", "rmse"), ("mae", "mae"),
                         ("change_calibration_slope", "calibration_slope"),
                         ("change_calibration_in_the_large", "calibration_in_the_large"),
                         ("pi_coverage", "pi_coverage"), ("pi_width", "pi_width")):
        assert_allclose(m[ours], external[theirs], rtol=1e-10, err_msg=ours)


def test_three_class_point_metrics_match_scikit_learn_and_the_external_metrics():
    rng = np.random.default_rng(0)
    P = rng.dirichlet([2, 2, 2], 300)
    y = (rng.random(300)[:, None] > P.cumsum(1)).sum(1)
    m = three_class_point_metrics(y, P)
    for j, name in enumerate(THREE_CLASSES):
        assert_allclose(m[f"auroc_{name}"], roc_auc_score(y == j, P[:, j]))
    assert_allclose(m["auroc_macro"], roc_auc_score(y, P, multi_class="ovr", average="macro"))
    assert_allclose(m["log_loss"], log_loss(y, P))
    external = multiclass_metrics(y, P).set_index("metric")["estimate"]
    for name in ("auroc_macro", "brier", "log_loss", *(f"calibration_slope_{c}"
                                                       for c in THREE_CLASSES)):
        assert_allclose(m[name], external[name], rtol=1e-6, err_msg=name)


def test_tuning_scores_per_task_match_scikit_learn():
    rng = np.random.default_rng(1)
    Z = rng.normal(size=(200, 3))
    y = rng.integers(0, 3, 200)
    P = np.exp(Z) / np.exp(Z).sum(axis=1, keepdims=True)
    assert_allclose(tuning_score("log_loss", y, Z, "three_class"), log_loss(y, P))
    assert_allclose(tuning_score("roc_auc", y, Z, "three_class"),
                    roc_auc_score(y, P, multi_class="ovr", average="macro"))
    change, predicted = rng.normal(0, 50, 200), rng.normal(0, 50, 200)
    mse = mean_squared_error(change, predicted)
    assert_allclose(tuning_score("mse", change, predicted, "continuous"), mse)
    assert_allclose(tuning_score("rmse", change, predicted, "continuous"), np.sqrt(mse))
    # log_loss and brier of a continuous outcome rank as the mean squared error does.
    assert tuning_score("log_loss", change, predicted, "continuous") == mse


@pytest.mark.parametrize(("text", "match"), [
    ("label: {rule: continuous}\ntuning: {metric: roc_auc}\n",
     "tuning.metric roc_auc needs a binary or three-class outcome"),
    ("tuning: {metric: mse}\n", "tuning.metric mse needs label rule continuous"),
    ("selection_metric: r2\n", "selection_metric r2 needs label rule continuous"),
    ("label: {rule: three_class, binary: false}\ncalibration: {method: isotonic}\n",
     "calibration.method isotonic is for binary outcomes"),
])
def test_metrics_that_do_not_fit_the_task_are_refused_in_one_line(tmp_path, text, match):
    path = tmp_path / "exp.yaml"
    path.write_text("models:\n  - {name: m, kind: logistic}\n" + text)
    with pytest.raises(ConfigError, match=match) as info:
        load_config(path)
    assert "\n" not in str(info.value)


def test_task_follows_the_label_rule():
    quick = load_config("pipelines/quick.yaml")
    assert quick.task == "binary"
    assert load_config("pipelines/quick.yaml", label={"rule": "continuous"}).task == "continuous"
    assert load_config("pipelines/quick.yaml",
                       label={"rule": "three_class", "binary": False}).task == "three_class"
    assert load_config("pipelines/quick.yaml",
                       label={"rule": "three_class", "binary": True}).task == "binary"


def test_continuous_labels_are_the_change_and_ignore_the_label_column():
    frame = pd.DataFrame({"participant_id": ["a", "b"], "eih_ppt_pre_kpa": [400.0, 300.0],
                          "eih_ppt_post_kpa": [430.0, 290.0], "eih_impaired": [1, 0]})
    y = make_labels(frame, LabelRule(rule="continuous", use_label_column=True))
    assert y.name == "eih_change_kpa" and y.tolist() == [30.0, -10.0]


def test_a_model_saved_before_output_maps_loads_and_scores_as_binary(cohort, tmp_path):
    """An old pickle has no output_map in its state: it is a binary model."""
    from eihpredict.modeling import Calibrator

    frame, X = cohort
    y = make_labels(frame).to_numpy()
    pipeline, scorer, batch = _fit("logistic", "binary", X, y)
    calibrator = Calibrator("sigmoid").fit(scorer.raw_score(batch), y)
    model = TrainedModel(pipeline=pipeline, calibrator=calibrator, threshold=0.5,
                         candidate="old", kind="logistic", groups=["cpm"],
                         input_columns=scorer.input_columns)
    state = {k: v for k, v in model.__getstate__().items() if k != "output_map"}
    old = TrainedModel.__new__(TrainedModel)
    old.__dict__.update(state)
    path = tmp_path / "old.pkl"
    path.write_bytes(pickle.dumps(old))
    loaded = pickle.loads(path.read_bytes())
    assert "output_map" not in loaded.__dict__
    assert loaded.task == "binary"
    assert loaded.output_columns[:2] == ("p_impaired_eih", "eih_prediction")
    out = loaded.predict(loaded.batch(X))
    assert_allclose(out["p_impaired_eih"], calibrator.predict(scorer.raw_score(batch)))
    assert set(out["eih_prediction"]) <= {"impaired", "responder"}

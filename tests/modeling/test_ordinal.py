"""The ordinal (proportional-odds) candidate: its fit against a direct maximisation of
the same penalised likelihood, the protocol's ordinal head, and a three-class run that
compares it with the multinomial candidates."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy.optimize import minimize
from scipy.special import expit

from eihpredict.config import load_config
from eihpredict.labels import LabelRule, make_labels
from eihpredict.modeling import ColumnBatch, OrdinalLogistic, PipelineScorer, make_pipeline
from eihpredict.schema import OUTCOME_COLUMNS
from eihpredict.simulate import simulate_cohort
from eihpredict.validation import validate_frame


def _penalised_nll(X, y, C):
    """The negative log-likelihood plus ||beta||^2 / (2 C), written from the model's
    definition (cumulative probabilities), thresholds sorted."""
    n, p = X.shape

    def value(w):
        beta, theta = w[:p], np.sort(w[p:])
        cumulative = np.column_stack([np.zeros(n), expit(theta[None] - (X @ beta)[:, None]),
                                      np.ones(n)])
        prob = cumulative[np.arange(n), y + 1] - cumulative[np.arange(n), y]
        return -np.log(prob).sum() + beta @ beta / (2 * C)
    return value


@pytest.mark.parametrize("C", [0.05, 2.0, 1e4])
def test_ordinal_logistic_is_the_penalised_maximum_likelihood(C):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(500, 3))
    y = np.digitize(X @ [1.0, -0.5, 0.0] + rng.logistic(size=500), [-0.7, 0.9])
    est = OrdinalLogistic(C=C).fit(X, y)
    nll = _penalised_nll(X, y, C)
    # An independent optimiser (derivative-free) from the fitted point and from scratch.
    reference = minimize(nll, np.r_[0.0, 0.0, 0.0, -0.5, 0.5], method="Nelder-Mead",
                         options={"maxiter": 40000, "xatol": 1e-10, "fatol": 1e-12})
    ours = nll(np.r_[est.coef_, est.thresholds_])
    assert ours <= reference.fun + 1e-6
    assert_allclose(np.r_[est.coef_, est.thresholds_], reference.x, atol=2e-3)
    P = est.predict_proba(X)
    assert_allclose(P.sum(axis=1), 1.0, atol=1e-12)
    # P(y <= 0) is the first cumulative probability of the definition.
    assert_allclose(P[:, 0], expit(est.thresholds_[0] - X @ est.coef_), atol=1e-12)


def test_ordinal_logistic_refuses_two_classes_and_bad_penalty():
    X = np.zeros((4, 1))
    with pytest.raises(ValueError, match="at least three classes"):
        OrdinalLogistic().fit(X, [0, 1, 0, 1])
    with pytest.raises(ValueError, match="C="):
        OrdinalLogistic(C=0).fit(X, [0, 1, 2, 1])


@pytest.fixture(scope="module")
def cohort():
    frame = validate_frame(simulate_cohort(500, seed=8).frame).frame
    X = frame.drop(columns=list(OUTCOME_COLUMNS), errors="ignore")
    y = make_labels(frame, LabelRule(rule="three_class", binary=False)).to_numpy()
    return X, y


def test_ordinal_head_gives_log_probabilities_and_contributions_adding_up(cohort):
    X, y = cohort
    pipeline = make_pipeline("ordinal", ["cpm", "ts", "pcs", "ppt", "sex"], {"C": 0.5},
                             seed=0, task="three_class").fit(X, y)
    scorer = PipelineScorer(pipeline)
    batch = ColumnBatch.from_frame(X, scorer.input_columns)
    raw = scorer.raw_score(batch)
    assert raw.shape == (len(X), 3)
    assert_allclose(np.exp(raw), pipeline.predict_proba(X), atol=1e-10)
    c = scorer.contributions(batch)
    assert c.values.shape == (len(X), len(scorer.feature_names), 3)
    assert_allclose(c.base + c.values.sum(axis=1), raw, atol=1e-9)
    # Along one latent predictor: per feature, the hypoalgesia and hyperalgesia
    # contributions have opposite signs (mass moves from one end to the other).
    assert np.all(c.values[:, :, 0] * c.values[:, :, 2] <= 1e-15)
    # The same bits row by row as in the batch.
    one = ColumnBatch.from_frame(X.iloc[[7]], scorer.input_columns)
    assert np.array_equal(scorer.raw_score(one)[0], raw[7])


def test_ordinal_kind_is_refused_for_a_binary_outcome():
    from eihpredict.config import PipelineConfig

    with pytest.raises(ValueError, match="model family .ordinal. has no estimator for a binary"):
        PipelineConfig.model_validate({"name": "x", "models": [
            {"name": "po", "kind": "ordinal"}]})


def test_three_class_run_compares_ordinal_with_multinomial_and_chooses_by_log_loss(tmp_path):
    from eihpredict.training import train

    frame = simulate_cohort(600, seed=46).frame
    frame.to_csv(tmp_path / "cohort.csv", index=False)
    config = load_config(
        "pipelines/quick.yaml", label={"rule": "three_class", "binary": False},
        calibration={"method": "auto", "folds": 3}, cv={"outer_folds": 3, "repeats": 1,
                                                        "bootstrap": 50},
        models=[{"name": "multinomial", "kind": "logistic", "params": {"C": 0.2}},
                {"name": "ordinal", "kind": "ordinal",
                 "search_space": {"C": {"type": "float", "low": 0.01, "high": 2.0,
                                        "log": True}}}])
    result = train(config, tmp_path / "cohort.csv", out=tmp_path / "model", track=False)
    log_loss = {name: result.metrics[name].loc["log_loss", "estimate"]
                for name in ("multinomial", "ordinal")}
    assert result.chosen == min(log_loss, key=log_loss.get)
    assert all(0 < v < np.log(3) + 0.2 for v in log_loss.values())

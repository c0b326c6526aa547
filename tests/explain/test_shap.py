"""Explanations add up, match shap's own TreeExplainer, and name their groups."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from eihpredict.explain import explain_frame, feature_group, group_contributions, top_contributions
from eihpredict.labels import make_labels
from eihpredict.modeling import fit_candidate
from eihpredict.validation import validate_frame


@pytest.fixture(scope="module")
def data(small_cohort):
    X = validate_frame(small_cohort.frame).frame
    return X, make_labels(X).to_numpy()


@pytest.fixture(scope="module", params=["lightgbm", "elasticnet", "ensemble"])
def fitted(request, data, quick_config):
    X, y = data
    candidate = next(c for c in quick_config.models if c.name == request.param)
    return fit_candidate(candidate, quick_config, X, y, seed=0).model


def test_contributions_plus_base_equal_raw_log_odds(fitted, data):
    X, _ = data
    explanation = explain_frame(fitted, X)
    np.testing.assert_allclose(explanation.raw_log_odds, fitted.raw_log_odds(X), atol=1e-8)
    assert list(explanation.values.columns) == list(explanation.data.columns)


def test_group_sums_keep_the_total_and_use_contract_groups(fitted, data):
    X, _ = data
    explanation = explain_frame(fitted, X.head(30))
    groups = explanation.by_group()
    np.testing.assert_allclose(groups.sum(axis=1), explanation.values.sum(axis=1))
    assert set(groups.columns) <= {"cpm", "ts", "pcs", "hads", "ppt", "exercise", "sex",
                                   "population"}


def test_lightgbm_contributions_equal_shap_tree_explainer(data, quick_config):
    import shap

    X, y = data
    candidate = next(c for c in quick_config.models if c.kind == "lightgbm")
    model = fit_candidate(candidate, quick_config, X, y, seed=0).model
    features = model.features(X.head(25)).to_numpy(dtype="float64")
    expected = shap.TreeExplainer(model.pipeline.named_steps["model"].booster_).shap_values(
        features)
    expected = expected[1] if isinstance(expected, list) else expected
    np.testing.assert_allclose(explain_frame(model, X.head(25)).values.to_numpy(), expected,
                               atol=1e-6)


def test_top_contributions_are_the_largest_in_order(fitted, data):
    X, _ = data
    explanation = explain_frame(fitted, X.head(40))
    top = top_contributions(explanation, 3)
    values = explanation.values
    for i in range(len(values)):
        # ties (e.g. indicators all 0) keep the model's feature order: one tie-break
        order = np.argsort(-values.iloc[i].abs().to_numpy(), kind="stable")[:3]
        expected = values.columns[order].tolist()
        assert [top.iloc[i][f"feature_{k}"] for k in (1, 2, 3)] == expected
        name = top.iloc[i]["feature_1"]
        assert top.iloc[i]["contribution_1"] == values.iloc[i][name]


def test_feature_group_prefixes():
    assert feature_group("cpm_paradigm_parallel") == "cpm"
    assert feature_group("pain_duration_log1p") == "pain"
    assert feature_group("population_chronic_pain") == "population"
    assert feature_group("ppt_local_z_missing") == "ppt"
    frame = pd.DataFrame({"pcs_total": [1.0], "pcs_rumination": [2.0]})
    assert group_contributions(frame).to_dict("records") == [{"pcs": 3.0}]

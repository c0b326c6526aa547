"""Rating-based CPM: the formula and its sign, the rating scale, and the simulator's claim
that the rating form carries the PPT form's signal (same latent CPM efficiency)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from eihpredict.features import CPMRatingFeatures, build_feature_pipeline
from eihpredict.simulate import simulate_cohort


def test_rating_cpm_is_before_minus_after_positive_is_inhibition():
    X = pd.DataFrame({"cpm_test_before_rating": [60.0, 5.0, 40.0, 0.0, 50.0],
                      "cpm_test_after_rating": [45.0, 6.0, 40.0, 0.0, 25.0],
                      "cpm_rating_scale": ["0-100", "0-10", "0-100", "0-100", None],
                      "cpm_test_stimulus": ["heat", "pressure", "cuff", "other", None]})
    out = CPMRatingFeatures().set_output(transform="pandas").fit_transform(X)
    assert list(out.columns[:2]) == ["cpm_rating_abs", "cpm_rating_pct"]
    assert_allclose(out["cpm_rating_abs"], [15.0, -10.0, 0.0, 0.0, np.nan])  # 0-10 x 10
    assert_allclose(out["cpm_rating_pct"], [25.0, -20.0, 0.0, np.nan, 50.0])  # scale-free
    assert out.loc[0, "cpm_rating_stimulus_heat"] == 1.0
    assert np.isnan(out.loc[4, "cpm_rating_stimulus_heat"])


def test_a_0_10_scale_with_ratings_above_10_is_refused_naming_the_row():
    X = pd.DataFrame({"cpm_test_before_rating": [6.0, 60.0], "cpm_test_after_rating": [4.0, 45.0],
                      "cpm_rating_scale": ["0-10", "0-10"]})
    with pytest.raises(ValueError, match=r"0-10 .* 1 row\(s\); first at row 2: before=60"):
        CPMRatingFeatures().fit_transform(X)


def test_rating_group_needs_the_rating_columns():
    X = pd.DataFrame({"cpm_test_before_kpa": [300.0], "cpm_test_after_kpa": [360.0]})
    with pytest.raises(ValueError, match="Feature group 'cpm_rating' needs columns"):
        build_feature_pipeline(["cpm_rating"]).fit(X)


def test_simulated_rating_cpm_carries_the_ppt_signal():
    """Same participants, same latent CPM: a logistic model on the rating form reaches the
    held-out AUROC of the one on the PPT form (small version of benchmarks.rating_cpm)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    train = simulate_cohort(1500, seed=21, scenario="default", extras=["cpm_rating"]).frame
    test = simulate_cohort(3000, seed=22, scenario="default", extras=["cpm_rating"]).frame
    others = ["ts", "pcs", "hads", "ppt", "exercise", "sex", "population"]
    auroc = {}
    for form in ("cpm", "cpm_rating"):
        pipe = build_feature_pipeline([form, *others], model_kind="linear")
        y_train = (train["eih_ppt_post_kpa"] <= train["eih_ppt_pre_kpa"]).to_numpy()
        y_test = (test["eih_ppt_post_kpa"] <= test["eih_ppt_pre_kpa"]).to_numpy()
        model = LogisticRegression(C=0.5, max_iter=2000).fit(pipe.fit_transform(train), y_train)
        auroc[form] = roc_auc_score(y_test, model.predict_proba(pipe.transform(test))[:, 1])
    assert auroc["cpm"] > 0.75  # the default scenario's clear signal
    assert abs(auroc["cpm_rating"] - auroc["cpm"]) < 0.02, auroc
    # The two forms measure one latent efficiency: strongly correlated, same direction.
    ppt = 100 * (test["cpm_test_after_kpa"] / test["cpm_test_before_kpa"] - 1)
    rating = 100 * (1 - test["cpm_test_after_rating"] / test["cpm_test_before_rating"])
    assert np.corrcoef(ppt, rating)[0, 1] > 0.7

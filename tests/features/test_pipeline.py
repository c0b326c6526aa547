"""The composed feature pipeline: names, missing-value handling, and no outcome leakage."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from eihpredict.features import FEATURE_GROUPS, build_feature_pipeline
from eihpredict.schema import OUTCOME_COLUMNS
from eihpredict.validation import read_valid_cohort

PREFIXES = ("cpm_", "ts_", "pcs_", "tsk_", "hads_", "ppt_", "sex", "population", "exercise_",
            "age_", "bmi_", "pain_", "physical_activity_", "site")


@pytest.fixture(scope="module")
def cohort(cohort_csv):
    return read_valid_cohort(cohort_csv)


def test_pipeline_names_start_with_their_group(cohort):
    out = build_feature_pipeline().fit_transform(cohort)
    assert isinstance(out, pd.DataFrame) and len(out) == len(cohort)
    assert all(name.startswith(PREFIXES) for name in out.columns), list(out.columns)
    for expected in ("cpm_pct", "ts_diff", "pcs_total", "pcs_rumination", "tsk_total",
                     "hads_anxiety", "ppt_local_z", "exercise_modality_isometric",
                     "exercise_dose", "sex_female", "population_fibromyalgia", "age_years"):
        assert expected in out.columns


def test_outcome_columns_never_reach_the_features(cohort):
    pipeline = build_feature_pipeline().fit(cohort)
    names = pipeline.get_feature_names_out()
    assert not any(name.startswith("eih") for name in names)
    scrambled = cohort.copy()
    rng = np.random.default_rng(0)
    for col in OUTCOME_COLUMNS:
        if col in scrambled:
            scrambled[col] = rng.permutation(scrambled[col].to_numpy())
    pd.testing.assert_frame_equal(pipeline.transform(cohort), pipeline.transform(scrambled))
    dropped = cohort.drop(columns=[c for c in OUTCOME_COLUMNS if c in cohort])
    pd.testing.assert_frame_equal(pipeline.transform(cohort), pipeline.transform(dropped))


def test_linear_pipeline_imputes_and_flags_missing(cohort):
    out = build_feature_pipeline(model_kind="linear").fit_transform(cohort)
    assert not out.isna().any().any()
    indicators = [c for c in out.columns if c.endswith("_missing")]
    assert "ts_wur_log_missing" in indicators
    assert all(c.startswith(PREFIXES) for c in indicators)
    assert np.allclose(out.drop(columns=indicators).mean(), 0, atol=1e-8)


def test_tree_pipeline_keeps_missing_values_for_lightgbm(cohort):
    out = build_feature_pipeline(model_kind="tree").fit_transform(cohort)
    assert out["ts_wur_log"].isna().any()


def test_missing_group_columns_stop_with_group_and_column_names(cohort):
    with pytest.raises(ValueError, match=r"'cpm' needs columns \(cpm_test_before_kpa"):
        build_feature_pipeline(["cpm", "ts"]).fit(cohort.drop(columns=["cpm_test_after_kpa"]))


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"groups": ["cpm", "mood"]}, "feature groups \\['mood'\\]"),
    ({"groups": []}, "non-empty list"),
    ({"model_kind": "forest"}, "model_kind='forest'"),
])
def test_builder_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        build_feature_pipeline(**kwargs)


def test_every_group_can_be_built_alone():
    from eihpredict.simulate import simulate_cohort

    cohort = simulate_cohort(150, seed=4, extras="all").frame  # every measure present
    for group in FEATURE_GROUPS:
        out = build_feature_pipeline([group]).fit_transform(cohort)
        assert out.shape[1] >= 1
        group_prefix = group if group in ("sex", "population") else group + "_"
        assert all(c.startswith(group_prefix) for c in out.columns), (group, list(out.columns))


def test_group_options_reach_the_transformer(cohort):
    pipe = build_feature_pipeline(["cpm"], options={"cpm": {"responder_rule": "percent"}})
    assert "cpm_responder" in pipe.fit_transform(cohort).columns

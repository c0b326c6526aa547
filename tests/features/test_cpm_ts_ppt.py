"""CPM, TS, pain sensitivity, exercise and clinical features: literal examples,
monotonicity properties and errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from eihpredict.features import (
    ClinicalFeatures,
    CPMFeatures,
    ExerciseDoseFeatures,
    PainSensitivityFeatures,
    TemporalSummationFeatures,
)


def named(est, frame):
    est = est.fit(frame)
    return pd.DataFrame(est.transform(frame), columns=est.get_feature_names_out())


def test_cpm_positive_means_inhibition_and_rules_flag_responders():
    frame = pd.DataFrame({"cpm_test_before_kpa": [300.0, 300.0, 300.0, np.nan],
                          "cpm_test_after_kpa": [345.0, 330.0, 270.0, 300.0]})
    out = named(CPMFeatures(responder_rule="sem", k=2, sem_kpa=20), frame)
    assert_allclose(out["cpm_abs"], [45, 30, -30, np.nan])
    assert_allclose(out["cpm_pct"], [15, 10, -10, np.nan])
    assert_allclose(out["cpm_responder"], [1, 0, 0, np.nan])  # > 2 x 20 kPa
    pct = named(CPMFeatures(responder_rule="percent", percent_threshold=10), frame)
    assert_allclose(pct["cpm_responder"], [1, 1, 0, np.nan])  # >= 10 %


def test_cpm_encodes_protocol_with_contract_categories():
    frame = pd.DataFrame({"cpm_test_before_kpa": [300.0], "cpm_test_after_kpa": [330.0],
                          "cpm_paradigm": ["Sequential"], "cpm_conditioning": [None]})
    out = named(CPMFeatures(), frame)
    assert out.loc[0, "cpm_paradigm_sequential"] == 1.0
    assert out.loc[0, "cpm_paradigm_parallel"] == 0.0
    assert np.isnan(out.loc[0, "cpm_conditioning_cold_pressor"])


@pytest.mark.parametrize(("params", "match"), [
    ({"responder_rule": "maybe"}, "responder_rule='maybe'"),
    ({"k": -1}, "k=-1"),
    ({"sem_kpa": 0}, "sem_kpa=0"),
])
def test_cpm_rejects_bad_parameters(params, match):
    frame = pd.DataFrame({"cpm_test_before_kpa": [300.0], "cpm_test_after_kpa": [330.0]})
    with pytest.raises(ValueError, match=match):
        CPMFeatures(**params).fit(frame)


def test_cpm_names_group_and_columns_when_absent():
    with pytest.raises(ValueError, match=r"'cpm' needs columns \(cpm_test_before_kpa, "
                                         r"cpm_test_after_kpa\)"):
        CPMFeatures().fit(pd.DataFrame({"cpm_test_before_kpa": [1.0]}))


@settings(max_examples=100, deadline=None)
@given(st.floats(50, 1500), st.floats(50, 1500), st.floats(1, 300))
def test_cpm_is_monotone_in_the_after_value(before, after, step):
    frame = pd.DataFrame({"cpm_test_before_kpa": [before, before],
                          "cpm_test_after_kpa": [after, min(after + step, 2000.0)]})
    out = named(CPMFeatures(), frame)
    assert out["cpm_pct"][1] >= out["cpm_pct"][0]
    assert out["cpm_abs"][1] >= out["cpm_abs"][0]


def test_ts_difference_and_log_windup_with_zero_guard():
    frame = pd.DataFrame({"ts_first_nrs": [2.0, 5.0], "ts_last_nrs": [6.0, 4.0],
                          "ts_single_nrs": [0.0, 10.0], "ts_series_nrs": [0.0, 20.0]})
    out = named(TemporalSummationFeatures(), frame)
    assert_allclose(out["ts_diff"], [4.0, -1.0])
    assert_allclose(out["ts_wur_log"], [0.0, np.log10(20.1 / 10.1)])
    assert np.isfinite(out["ts_wur_log"]).all()


@settings(max_examples=100, deadline=None)
@given(st.floats(0, 100), st.floats(0, 100), st.floats(0.1, 50))
def test_ts_windup_rises_with_series_and_falls_with_single(single, series, step):
    frame = pd.DataFrame({"ts_single_nrs": [single, single, single + step],
                          "ts_series_nrs": [series, series + step, series]})
    w = named(TemporalSummationFeatures(), frame)["ts_wur_log"].to_numpy()
    assert np.isfinite(w).all()
    assert w[1] > w[0] > w[2]


def test_ts_uses_whichever_form_exists():
    est = TemporalSummationFeatures().fit(pd.DataFrame({"ts_single_nrs": [1.0],
                                                        "ts_series_nrs": [2.0]}))
    assert list(est.get_feature_names_out()) == ["ts_wur_log"]


def test_ppt_zscores_use_the_fixed_sex_specific_reference():
    # At the reference median (mean / exp(sd^2/2)) the z-score is 0, whatever the data.
    sd = 0.38
    frame = pd.DataFrame({"ppt_local_kpa": [560 / np.exp(sd**2 / 2), 440 / np.exp(sd**2 / 2)],
                          "ppt_remote_kpa": [427.0, np.nan], "sex": ["male", "female"]})
    out = named(PainSensitivityFeatures(), frame)
    assert_allclose(out["ppt_local_z"], [0.0, 0.0], atol=1e-12)
    assert_allclose(out["ppt_remote_z"][0], sd / 2)
    assert np.isnan(out["ppt_remote_z"][1])
    # Fitting on other data changes nothing: nothing is learned.
    shifted = named(PainSensitivityFeatures().fit(frame.assign(ppt_local_kpa=[900.0, 900.0])),
                    frame)
    assert_allclose(shifted["ppt_local_z"], out["ppt_local_z"])


def test_exercise_dose_and_modality():
    frame = pd.DataFrame({"exercise_modality": ["aerobic", "isometric"],
                          "exercise_intensity_pct": [70.0, 30.0],
                          "exercise_duration_min": [20.0, 2.0]})
    out = named(ExerciseDoseFeatures(), frame)
    assert_allclose(out["exercise_dose"], [14.0, 0.6])
    assert_allclose(out["exercise_modality_isometric"], [0.0, 1.0])


def test_clinical_features_and_chronic_pain_indicator():
    frame = pd.DataFrame({"sex": ["male", "female", None],
                          "population": ["healthy", "fibromyalgia", None]})
    out = named(ClinicalFeatures(groups=("sex", "population")), frame)
    assert_allclose(out["sex_female"], [0.0, 1.0, np.nan])
    assert_allclose(out["population_chronic_pain"], [0.0, 1.0, np.nan])
    assert all(c.startswith(("sex", "population")) for c in out.columns)

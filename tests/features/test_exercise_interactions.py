"""Exercise x moderator products for per-patient prescriptions (issue 23)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.testing import assert_allclose

from eihpredict.features import ExerciseDoseFeatures


def test_products_match_a_hand_computation():
    X = pd.DataFrame({
        "exercise_modality": ["aerobic", "isometric"], "exercise_intensity_pct": [75.0, 30.0],
        "exercise_duration_min": [20.0, 3.0], "cpm_test_before_kpa": [300.0, 400.0],
        "cpm_test_after_kpa": [390.0, 380.0], "ts_first_nrs": [2.0, np.nan],
        "ts_last_nrs": [5.0, 4.0], "pcs_total": [25.0, np.nan],
        **{f"pcs_{i:02d}": [np.nan, 1.0 if i <= 12 else np.nan] for i in range(1, 14)}})
    est = ExerciseDoseFeatures(interactions=True, moderators=True).fit(X)
    out = pd.DataFrame(est.transform(X), columns=est.get_feature_names_out())
    cpm = (100 * (np.array([390.0, 380.0]) - [300.0, 400.0]) / [300.0, 400.0] - 15) / 20
    ts = np.array([(3.0 - 1.5) / 1.5, 0.0])  # missing TS: the reference value (z = 0)
    pcs = np.array([(25.0 - 15) / 10, (13.0 - 15) / 10])  # 12 of 13 items pro-rated to 13
    assert_allclose(out["exercise_modality_aerobic_x_cpm_pct"], [cpm[0], 0.0])
    assert_allclose(out["exercise_modality_isometric_x_ts_diff"], [0.0, ts[1]])
    assert_allclose(out["exercise_intensity_x_pcs_total"], [(75 - 60) / 10 * pcs[0],
                                                           (30 - 60) / 10 * pcs[1]])
    assert_allclose(out["pcs_total_z"], pcs)
    assert all(name.startswith(("exercise_", "cpm_", "ts_", "pcs_"))
               for name in out.columns)


def test_default_output_is_unchanged():
    X = pd.DataFrame({"exercise_modality": ["aerobic"], "exercise_intensity_pct": [70.0],
                      "exercise_duration_min": [20.0], "cpm_test_before_kpa": [300.0]})
    names = list(ExerciseDoseFeatures().fit(X).get_feature_names_out())
    assert names == ["exercise_modality_aerobic", "exercise_modality_isometric",
                     "exercise_modality_dynamic_resistance", "exercise_intensity_pct",
                     "exercise_duration_min", "exercise_dose"]

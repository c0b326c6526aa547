"""EIH label rules."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from eihpredict.labels import LabelRule, label_report, make_labels

FRAME = pd.DataFrame({
    "participant_id": ["a", "b", "c", "d", "e"],
    "eih_ppt_pre_kpa": [400.0, 400.0, 400.0, 400.0, 500.0],
    "eih_ppt_post_kpa": [460.0, 430.0, 400.0, 350.0, 540.0],
})  # changes: +60, +30, 0, -50, +40 (8 %)


@pytest.mark.parametrize(("rule", "expected"), [
    (LabelRule(), [0, 0, 1, 1, 0]),
    (LabelRule(rule="absolute", threshold_kpa=30), [0, 1, 1, 1, 0]),
    (LabelRule(rule="relative", threshold_pct=10), [0, 1, 1, 1, 1]),
    (LabelRule(rule="sem", k=2, sem_kpa=20), [0, 1, 1, 1, 1]),
    (LabelRule(rule="three_class", band_kpa=35, binary=False), [0, 1, 1, 2, 0]),
    (LabelRule(rule="three_class", band_kpa=35), [0, 1, 1, 1, 0]),
])
def test_label_rules(rule, expected):
    assert make_labels(FRAME, rule).tolist() == expected


def test_label_column_overrides_the_rule_only_when_the_config_says_so(caplog):
    """Issue: an eih_impaired column silently overrode the configured rule."""
    frame = FRAME.assign(eih_impaired=[1, np.nan, np.nan, 0, np.nan])
    with caplog.at_level("WARNING", logger="eihpredict.labels"):
        assert make_labels(frame).tolist() == [0, 0, 1, 1, 0]  # the rule, by default
    assert "disagrees with the rule" in caplog.text and "2 of 2 rows" in caplog.text
    assert make_labels(frame, LabelRule(use_label_column=True)).tolist() == [1, 0, 1, 0, 0]
    assert make_labels(frame, LabelRule(use_label_column=False)).tolist() == [0, 0, 1, 1, 0]
    report = label_report(frame, LabelRule(rule="absolute", threshold_kpa=70))
    assert report == {"source": "rule", "compared": 2, "disagreements": 1}  # row d


def test_sdc_rule_is_the_smallest_detectable_change():
    rule = LabelRule(rule="sdc", sem_kpa=20)
    assert rule.sdc_kpa == pytest.approx(1.96 * np.sqrt(2) * 20)  # 55.4 kPa
    assert make_labels(FRAME, rule).tolist() == [0, 1, 1, 1, 1]  # +60 is the only rise
    from_icc = LabelRule(rule="sdc", sem_kpa=None, icc=0.84, sd_kpa=50)
    assert from_icc.sdc_kpa == pytest.approx(1.96 * np.sqrt(2) * 50 * np.sqrt(0.16))
    assert "smallest detectable change" in rule.describe()


def test_relative_rule_warns_about_reliability(caplog):
    with caplog.at_level("WARNING", logger="eihpredict.labels"):
        make_labels(FRAME, LabelRule(rule="relative", threshold_pct=10))
    assert "less reliable" in caplog.text


def test_label_column_alone_is_enough():
    frame = pd.DataFrame({"participant_id": ["a", "b"], "eih_impaired": [1.0, 0.0]})
    assert make_labels(frame).tolist() == [1, 0]


def test_rows_without_outcome_are_named_not_dropped():
    frame = FRAME.copy()
    frame.loc[[1, 3], "eih_ppt_post_kpa"] = np.nan
    with pytest.raises(ValueError, match=r"2 row\(s\) have no EIH outcome.*row 2 \('b'\), "
                                         r"row 4 \('d'\)"):
        make_labels(frame)


def test_missing_outcome_columns_are_named():
    with pytest.raises(ValueError, match="needs eih_ppt_pre_kpa and eih_ppt_post_kpa"):
        make_labels(FRAME.drop(columns=["eih_ppt_post_kpa"]))


def test_label_rule_refuses_unknown_keys_and_bad_values():
    with pytest.raises(ValidationError, match="treshold_kpa"):
        LabelRule(rule="absolute", treshold_kpa=3)
    with pytest.raises(ValidationError, match="sem_kpa"):
        LabelRule(rule="sem", sem_kpa=-1)


def test_default_rule_matches_the_simulator_truth(small_cohort):
    y = make_labels(small_cohort.frame)
    assert y.tolist() == (small_cohort.frame["eih_ppt_post_kpa"]
                          <= small_cohort.frame["eih_ppt_pre_kpa"]).astype(int).tolist()


def test_regression_to_the_mean_guard_fires_only_when_baseline_is_the_pre_value(
        tmp_path, quick_config):
    from eihpredict.labels import regression_to_the_mean
    from eihpredict.simulate import simulate_cohort
    from eihpredict.training import train

    frame = simulate_cohort(240, seed=3).frame
    assert not regression_to_the_mean(frame)["fires"]  # measured separately (r ~ 0.99)
    same = frame.assign(ppt_local_kpa=frame["eih_ppt_pre_kpa"])
    assert regression_to_the_mean(same)["fires"]
    assert regression_to_the_mean(frame, LabelRule(baseline_is_pre=True))["fires"]
    path = tmp_path / "rtm.csv"
    same.to_csv(path, index=False)
    config = quick_config.model_copy(update={"models": quick_config.models[:2]})
    result = train(config, path, out=tmp_path / "m", track=False)
    assert "ppt_local_kpa" not in result.final.model.input_columns
    assert result.metadata["training_data"]["regression_to_the_mean"]["fires"]
    assert "Regression to the mean" in (tmp_path / "m" / "model_card.md").read_text()

"""EIH label rules."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from eihpredict.labels import LabelRule, make_labels

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


def test_explicit_label_column_overrides_the_rule_where_present():
    frame = FRAME.assign(eih_impaired=[1, np.nan, np.nan, 0, np.nan])
    assert make_labels(frame).tolist() == [1, 0, 1, 0, 0]
    assert make_labels(frame, LabelRule(use_label_column=False)).tolist() == [0, 0, 1, 1, 0]


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

"""Bringing a study's spreadsheet onto the contract."""

from __future__ import annotations

import pandas as pd
import pytest

from eihpredict.harmonize import convert_pressure, harmonize, recode_items
from eihpredict.validation import validate_frame


def test_pressure_units_convert_to_kpa():
    assert convert_pressure(pd.Series([1.0]), "kg/cm2").iloc[0] == 98.1
    assert convert_pressure(pd.Series([30.0]), "N/cm2").iloc[0] == 300.0
    with pytest.raises(ValueError, match="unit='bar'"):
        convert_pressure(pd.Series([1.0]), "bar")


def test_tsk_items_coded_0_3_become_valid_after_recoding():
    frame = pd.DataFrame({"participant_id": ["a"], "sex": ["male"],
                          **{f"tsk_{i:02d}": [0] for i in range(1, 18)}})
    assert not validate_frame(frame).valid[0]
    fixed = recode_items(frame, "tsk", 1)
    assert validate_frame(fixed).valid[0]
    assert frame["tsk_01"].iloc[0] == 0  # the input is not modified


def test_harmonize_a_study_spreadsheet():
    study = pd.DataFrame({"Subject": ["s1", "s2"], "Gender": ["F", "M"],
                          "PPT quadriceps (kg/cm2)": [4.2, 6.1], "PCS": [22, 8],
                          "Group": ["CLBP", "control"]})
    out = harmonize(
        study,
        rename={"Subject": "participant_id", "Gender": "sex", "PCS": "pcs_total",
                "PPT quadriceps (kg/cm2)": "ppt_local_kpa", "Group": "population"},
        units={"ppt_local_kpa": "kg/cm2"},
        categories={"sex": {"F": "female", "M": "male"},
                    "population": {"clbp": "chronic_low_back_pain", "control": "healthy"}},
    )
    result = validate_frame(out)
    assert result.valid.all(), result.issues
    assert result.frame["ppt_local_kpa"].tolist() == [411.9, 598.2]
    with pytest.raises(ValueError, match="not a pressure column"):
        harmonize(out, units={"pcs_total": "kg/cm2"})


def test_harmonize_codes_match_when_blanks_made_the_column_float():
    """Issue 15: {1: "female", 2: "male"} did nothing once blanks made the column 2.0."""
    study = pd.DataFrame({"participant_id": ["a", "b", "c"], "sex": [2.0, float("nan"), 1.0]})
    out = harmonize(study, categories={"sex": {1: "female", 2: "male"}})
    assert out["sex"].tolist()[0::2] == ["male", "female"]
    assert pd.isna(out["sex"].iloc[1])


def test_harmonize_reports_unmapped_values_with_rows():
    study = pd.DataFrame({"participant_id": ["a", "b", "c", "d"], "sex": [1, 3, 2, 3]})
    with pytest.raises(ValueError, match=r"sex: value '3' in 2 row\(s\) \(rows 2, 4\) is not "
                                         r"in the categories mapping"):
        harmonize(study, categories={"sex": {1: "female", 2: "male"}})


def test_harmonize_lbf_per_cm2():
    assert convert_pressure(pd.Series([1.0]), "lbf/cm2").iloc[0] == 44.5

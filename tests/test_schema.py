"""The contract in code: one definition, from which the validator, the request model
and the docs table are derived."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from eihpredict.schema import (
    COLUMN_BY_NAME,
    COLUMNS,
    DESIGN_NAMING,
    QUESTIONNAIRES,
    contract_markdown,
    participant_model,
)
from eihpredict.validation import validate_frame, validate_records

ROOT = Path(__file__).resolve().parents[1]

# The column list of docs/public-contract.md section 1, written out literally.
CONTRACT_COLUMNS = (
    ["participant_id", "site", "population", "sex", "age_years", "bmi_kg_m2",
     "pain_duration_months", "pain_intensity_nrs", "physical_activity_met_min_week",
     "ppt_local_kpa", "ppt_remote_kpa", "cpm_test_before_kpa", "cpm_test_after_kpa",
     "cpm_paradigm", "cpm_conditioning", "ts_first_nrs", "ts_last_nrs", "ts_single_nrs",
     "ts_series_nrs"]
    + [f"pcs_{i:02d}" for i in range(1, 14)]
    + [f"tsk_{i:02d}" for i in range(1, 18)]
    + [f"hads_{i:02d}" for i in range(1, 15)]
    + ["pcs_total", "tsk_total", "hads_anxiety", "hads_depression", "exercise_modality",
       "exercise_intensity_pct", "exercise_duration_min", "eih_ppt_pre_kpa",
       "eih_ppt_post_kpa", "eih_impaired"]
    + ["tsk11_total"]  # contract v2 (section 6): TSK-11 totals
    + ["exercise_muscle"]  # contract v2: study designs (the local PPT site)
    + ["session_id"]  # contract v3: repeated sessions
    + [f"{session}_ppt_{site}_{time}_t{k}_kpa" for session in ("eih", "rest")
       for site in ("local", "remote", "semilocal")
       for time in ("pre", "post", "post15", "post30") for k in (1, 2, 3)]
    + [f"{session}_{measure}_{time}_{unit}" for session in ("eih", "rest")
       for measure, unit in (("hpt", "c"), ("spr", "nrs"))
       for time in ("pre", "post", "post15", "post30")]
    # contract v3 (section 7): rating-based CPM and the instruments beside PCS/TSK/HADS
    + ["cpm_test_before_rating", "cpm_test_after_rating", "cpm_rating_scale",
       "cpm_test_stimulus"]
    + [f"promis_{d}_{i:02d}" for d in ("anx", "dep") for i in range(1, 5)]
    + ["promis_anx_raw", "promis_anx_t", "promis_dep_raw", "promis_dep_t"]
    + [f"pseq_{i:02d}" for i in range(1, 11)] + ["pseq_total"]
    + [f"csi_{i:02d}" for i in range(1, 26)] + ["csi_total"]
    + [f"stai_trait_{i:02d}" for i in range(1, 21)] + ["stai_trait_total"]
    + [f"phq9_{i:02d}" for i in range(1, 10)] + ["phq9_total"]
    + [f"gad7_{i:02d}" for i in range(1, 8)] + ["gad7_total"]
)


def test_schema_has_every_contract_column_once():
    names = [c.name for c in COLUMNS]
    assert sorted(names) == sorted(CONTRACT_COLUMNS)
    assert len(names) == len(set(names))


def test_schema_groups_are_feature_prefixes():
    prefixes = {"cpm", "ts", "pcs", "tsk", "hads", "ppt", "sex", "population", "exercise",
                "age", "bmi", "pain", "physical_activity", "site", "id", "eih",
                # contract v3: rating-based CPM (its columns keep the cpm_ prefix, as named
                # in the contract; its features start with cpm_rating_) and instruments
                "cpm_rating", "promis_anx", "promis_dep", "pseq", "csi", "stai_trait", "phq9",
                "gad7"}
    for column in COLUMNS:
        assert column.group in prefixes
        if column.group not in ("id", "eih"):
            prefix = "cpm_" if column.group == "cpm_rating" else column.group
            assert column.name.startswith(prefix), column.name


def test_schema_tsk_reverse_items_are_4_8_12_16():
    tsk = QUESTIONNAIRES["tsk"]
    assert tsk.reverse == (4, 8, 12, 16)
    assert tsk.reverse_constant == 5
    assert "reverse-keyed" in COLUMN_BY_NAME["tsk_08"].description


def test_contract_docs_are_generated_from_the_schema():
    doc = (ROOT / "docs" / "contract.md").read_text()
    assert contract_markdown() in doc, "regenerate docs/contract.md: eihpredict contract"
    assert DESIGN_NAMING in doc, "regenerate docs/contract.md: eihpredict contract"


def test_design_columns_are_outcome_columns_except_the_muscle():
    """Contract v2 design columns never reach a model as features."""
    design = [c for c in COLUMNS if c.name.startswith(("eih_", "rest_"))]
    assert len(design) == 2 * (3 * 4 * 3 + 4 + 4) + 3  # + the three v1 outcome columns
    assert all(c.training_only for c in design)
    assert not COLUMN_BY_NAME["exercise_muscle"].training_only
    assert "exercise_muscle" in participant_model().model_json_schema()["properties"]
    assert "rest_ppt_local_pre_t1_kpa" not in participant_model().model_json_schema()[
        "properties"]


def test_design_columns_are_range_checked_with_their_names():
    frame = pd.DataFrame({"participant_id": ["a", "b"], "sex": ["male", "female"],
                          "eih_hpt_post_c": [44.0, 60.0], "eih_spr_pre_nrs": [-1.0, 50.0],
                          "exercise_muscle": ["forearm", "elbow"]})
    issues = validate_frame(frame).issues
    assert sorted(zip(issues["row"], issues["column"], strict=True)) == [
        (1, "eih_spr_pre_nrs"), (2, "eih_hpt_post_c"), (2, "exercise_muscle")]


RECORDS = [
    ({"participant_id": "a", "sex": "Female"}, True),
    ({"participant_id": "a", "sex": "robot"}, False),
    ({"participant_id": "a", "sex": "male", "pcs_01": 2.5}, False),
    ({"participant_id": "a", "sex": "male", "pcs_01": 4}, True),
    ({"participant_id": "a", "sex": "male", "pcs_01": 5}, False),
    ({"participant_id": "a", "sex": "male", "tsk_01": 0}, False),
    ({"participant_id": "a", "sex": "male", "ppt_local_kpa": 0}, False),
    ({"participant_id": "a", "sex": "male", "ppt_local_kpa": 2000}, True),
    ({"participant_id": "a", "sex": "male", "exercise_duration_min": 0}, False),
    ({"participant_id": "a", "sex": "male", "exercise_modality": "Aerobic"}, True),
    ({"participant_id": "a", "sex": "male", "age_years": float("inf")}, False),
    ({"participant_id": "a", "sex": "male", "unknown_extra": "kept"}, True),
]


@pytest.mark.parametrize(("record", "accepted"), RECORDS)
def test_record_validator_agrees_with_table_validator(record, accepted):
    """The service's validator (records) and the file validator accept the same rows;
    the request model only describes the fields (it accepts any JSON value)."""
    model_ok = bool(validate_records([record]).valid[0])
    table_ok = bool(validate_frame(pd.DataFrame([record])).valid[0])
    participant_model()(**record)  # never refuses: the validator decides
    assert model_ok == table_ok == accepted


def test_record_validator_keeps_extra_fields_and_lowercases_categories():
    result = validate_records([{"participant_id": "x", "sex": "MALE", "clinic_code": "c7"}])
    assert result.columns["sex"].tolist() == ["male"]
    assert result.columns["clinic_code"].tolist() == ["c7"]
    schema = participant_model().model_json_schema()
    assert schema["properties"]["sex"]["enum"] == ["female", "male"]
    assert set(schema["required"]) == {"participant_id", "sex"}

"""The contract in code: one definition, from which the validator, the request model
and the docs table are derived."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from eihpredict.schema import (
    COLUMN_BY_NAME,
    COLUMNS,
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
)


def test_schema_has_every_contract_column_once():
    names = [c.name for c in COLUMNS]
    assert sorted(names) == sorted(CONTRACT_COLUMNS)
    assert len(names) == len(set(names))


def test_schema_groups_are_feature_prefixes():
    prefixes = {"cpm", "ts", "pcs", "tsk", "hads", "ppt", "sex", "population", "exercise",
                "age", "bmi", "pain", "physical_activity", "site", "id", "eih"}
    for column in COLUMNS:
        assert column.group in prefixes
        if column.group not in ("id", "eih"):
            assert column.name.startswith(column.group), column.name


def test_schema_tsk_reverse_items_are_4_8_12_16():
    tsk = QUESTIONNAIRES["tsk"]
    assert tsk.reverse == (4, 8, 12, 16)
    assert tsk.reverse_constant == 5
    assert "reverse-keyed" in COLUMN_BY_NAME["tsk_08"].description


def test_contract_docs_are_generated_from_the_schema():
    doc = (ROOT / "docs" / "contract.md").read_text()
    assert contract_markdown() in doc, "regenerate docs/contract.md: eihpredict contract"


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

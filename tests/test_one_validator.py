"""One validator: a JSON record is accepted or refused exactly as the same row of a table.

The service validates records with :func:`validate_records`; files go through
:func:`validate_frame`. Both apply the same per-column rules, so for any record the two
must flag the same fields with the same rules (issue: ``"pcs_01": true`` was accepted
over HTTP and refused in a file; a numeric id the other way round).
"""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings

from eihpredict.validation import validate_frame, validate_records
from tests.serve.test_fuzz import participant


def _flags_table(record: dict) -> set[tuple[str, str]]:
    issues = validate_frame(pd.DataFrame([record])).issues
    return set(zip(issues["column"], issues["rule"], strict=True))


def _flags_records(record: dict) -> set[tuple[str, str]]:
    return {(i["column"], i["rule"]) for i in validate_records([record]).issues}


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.data_too_large])
@given(participant)
def test_records_and_tables_flag_the_same_fields_with_the_same_rules(record):
    assert _flags_records(record) == _flags_table(record)


@pytest.mark.parametrize(("field", "value", "valid"), [
    ("pcs_01", True, False),            # was accepted over HTTP as 1
    ("participant_id", 12345, True),    # was refused over HTTP, accepted in a file
    ("pcs_01", "1_000", False),         # Python's int() reads 1_000
    ("age_years", " 40 ", True),        # text is stripped in both
    ("ppt_local_kpa", float("nan"), False),
    ("pcs_01", [1], False),
    ("participant_id", ["a"], False),
])
def test_known_disagreements_now_agree(field, value, valid):
    record = {"participant_id": "p1", "sex": "female", field: value}
    assert bool(validate_records([record]).valid[0]) is valid
    if not (isinstance(value, float) and value != value):  # a table cell NaN means empty
        assert bool(validate_frame(pd.DataFrame([record])).valid[0]) is valid


def test_record_values_are_typed_like_the_table():
    record = {"participant_id": 7, "sex": " Female ", "pcs_01": 3, "cpm_paradigm": "PARALLEL"}
    typed = validate_records([record]).columns
    table = validate_frame(pd.DataFrame([record])).frame
    assert typed["participant_id"][0] == table["participant_id"][0] == "7"
    assert typed["sex"][0] == table["sex"][0] == "female"
    assert typed["pcs_01"][0] == table["pcs_01"][0] == 3.0
    assert typed["cpm_paradigm"][0] == table["cpm_paradigm"][0] == "parallel"


def test_duplicate_ids_among_records_name_the_earlier_row():
    result = validate_records([{"participant_id": "a", "sex": "male"},
                               {"participant_id": "a", "sex": "male"}])
    assert result.valid.tolist() == [True, False]
    assert result.issues[0]["rule"] == "participant_id must be unique; same id as row 1"


def test_text_fields_have_a_length_limit_in_both_paths():
    from eihpredict.validation import MAX_TEXT

    record = {"participant_id": "x" * (MAX_TEXT + 1), "sex": "male"}
    assert _flags_records(record) == _flags_table(record) == {
        ("participant_id", f"non-empty text, unique in the file; at most {MAX_TEXT} characters")}
    assert validate_records([{**record, "participant_id": "x" * MAX_TEXT}]).valid[0]

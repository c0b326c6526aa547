"""Cell, row and file rules of the cohort validator."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eihpredict.cohort_io import CohortFileError
from eihpredict.schema import COLUMNS
from eihpredict.validation import (
    CohortValidationError,
    DuplicateTracker,
    read_valid_cohort,
    validate_file,
    validate_frame,
)


def issues_of(frame: pd.DataFrame, **kwargs) -> list[tuple[int, str, str]]:
    result = validate_frame(frame, **kwargs)
    return [(r.row, r.column, r.rule) for r in result.issues.itertuples()]


def test_validate_frame_accepts_valid_rows_and_types_them(minimal_frame):
    result = validate_frame(minimal_frame)
    assert result.valid.all()
    assert result.issues.empty
    assert result.frame["sex"].tolist() == ["female", "male", "female"]
    assert isinstance(result.frame["sex"].dtype, pd.CategoricalDtype)
    assert result.frame["ppt_local_kpa"].dtype == "float64"
    assert np.isnan(result.frame["pcs_01"].iloc[2])


@pytest.mark.parametrize(
    ("column", "value", "rule_part"),
    [
        ("pcs_01", "5", "whole number between 0 and 4"),
        ("pcs_01", "2.5", "got a fraction"),
        ("pcs_01", "two", "not a number"),
        ("tsk_03", "0", "whole number between 1 and 4"),
        ("hads_02", "4", "whole number between 0 and 3"),
        ("ppt_local_kpa", "0", "number between 0.5 and 2000 kPa"),
        ("ppt_local_kpa", "2000.1", "number between 0.5 and 2000 kPa"),
        ("ppt_local_kpa", "NaN", "NaN is not allowed"),
        ("ppt_local_kpa", "inf", "infinite values are not allowed"),
        ("ppt_local_kpa", "-inf", "infinite values are not allowed"),
        ("age_years", "17", "between 18 and 100"),
        ("pain_duration_months", "-1", "between 0 and 1200"),
        ("exercise_duration_min", "0", "> 0 and <= 180"),
        ("population", "martian", "unknown category"),
        ("sex", "", "required"),
        ("participant_id", " ", "required"),
        ("eih_impaired", "2", "between 0 and 1"),
        ("ts_series_nrs", "100.5", "between 0 and 100"),
    ],
)
def test_validate_frame_reports_each_broken_rule(minimal_frame, column, value, rule_part):
    frame = minimal_frame.copy()
    frame[column] = frame.get(column, pd.Series([""] * 3, dtype="str"))
    frame.loc[1, column] = value
    result = validate_frame(frame)
    assert result.valid.tolist() == [True, False, True]
    (issue,) = result.issues.itertuples()
    expected_id = None if column == "participant_id" else "p2"
    assert (issue.row, issue.participant_id, issue.column) == (2, expected_id, column)
    assert rule_part in issue.rule
    assert issue.value == (value.strip() or None)


def test_validate_frame_matches_categories_case_insensitively():
    frame = pd.DataFrame({"participant_id": ["a"], "sex": [" Female "],
                          "exercise_modality": ["Dynamic_Resistance"]})
    result = validate_frame(frame)
    assert result.valid.all()
    assert result.frame["exercise_modality"].iloc[0] == "dynamic_resistance"


def test_validate_frame_first_row_offsets_row_numbers(minimal_frame):
    frame = minimal_frame.copy()
    frame.loc[0, "pcs_01"] = "9"
    assert issues_of(frame, first_row=101)[0][0] == 101


def test_duplicate_ids_are_found_within_and_across_chunks():
    tracker = DuplicateTracker()
    first = pd.DataFrame({"participant_id": ["a", "b", "a"], "sex": ["male"] * 3})
    second = pd.DataFrame({"participant_id": ["c", "b"], "sex": ["male"] * 2})
    one = validate_frame(first, duplicates=tracker)
    two = validate_frame(second, first_row=4, duplicates=tracker)
    assert [(r.row, r.rule) for r in one.issues.itertuples()] == [
        (3, "participant_id must be unique; same id as row 1")]
    assert [(r.row, r.rule) for r in two.issues.itertuples()] == [
        (5, "participant_id must be unique; same id as row 2")]


def _pcs(values):
    return {f"pcs_{i:02d}": str(v) for i, v in enumerate(values, start=1)}


def test_totals_must_equal_their_items():
    items = [1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1, 2, 3]  # sum 26
    good = {"participant_id": "a", "sex": "male", **_pcs(items), "pcs_total": "26"}
    bad = {**good, "participant_id": "b", "pcs_total": "27"}
    found = issues_of(pd.DataFrame([good, bad]))
    assert found == [(2, "pcs_total", "must equal the sum of pcs_01..pcs_13 (= 26)")]


def test_totals_with_missing_items_must_lie_within_reachable_bounds():
    items = [1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1, 2, ""]  # 23 answered, one missing (0-4)
    rows = [{"participant_id": p, "sex": "male", **_pcs(items), "pcs_total": t}
            for p, t in (("a", "23"), ("b", "27"), ("c", "28"))]
    found = issues_of(pd.DataFrame(rows))
    assert [(r, c) for r, c, _ in found] == [(3, "pcs_total")]
    assert "between" in found[0][2] and "(23-27)" in found[0][2]


def test_tsk_total_is_checked_after_reverse_scoring():
    answered = [2] * 17
    answered[3] = 1  # item 4 is reverse-keyed: scores 5 - 1 = 4
    # 13 plain items x 2 + items 8, 12, 16 scored 5 - 2 = 3 each + item 4 scored 4 = 39
    row = {"participant_id": "a", "sex": "male",
           **{f"tsk_{i:02d}": str(v) for i, v in enumerate(answered, start=1)}}
    assert issues_of(pd.DataFrame([{**row, "tsk_total": "39"}])) == []
    wrong = issues_of(pd.DataFrame([{**row, "tsk_total": str(sum(answered))}]))
    assert wrong and wrong[0][1] == "tsk_total" and "after reverse scoring" in wrong[0][2]


def test_hads_subscales_use_odd_and_even_items():
    items = {f"hads_{i:02d}": str(3 if i % 2 else 0) for i in range(1, 15)}
    row = {"participant_id": "a", "sex": "female", **items}
    assert issues_of(pd.DataFrame([{**row, "hads_anxiety": "21", "hads_depression": "0"}])) == []
    assert {c for _, c, _ in issues_of(pd.DataFrame(
        [{**row, "hads_anxiety": "0", "hads_depression": "21"}]))} == {
        "hads_anxiety", "hads_depression"}


def test_missing_required_column_is_a_file_error():
    with pytest.raises(CohortFileError, match="missing required column.*sex"):
        validate_frame(pd.DataFrame({"participant_id": ["a"]}))


def test_parquet_typed_input_is_validated_like_text(tmp_path, small_cohort):
    frame = small_cohort.frame.head(50).copy()
    frame.loc[3, "pcs_02"] = 9
    frame.loc[7, "ppt_local_kpa"] = np.inf
    path = tmp_path / "c.parquet"
    frame.to_parquet(path, index=False)
    summary = validate_file(path, report=tmp_path / "r.csv")
    assert (summary.n_rows, summary.n_invalid_rows) == (50, 2)
    report = pd.read_csv(tmp_path / "r.csv")
    assert report[["row", "column"]].values.tolist() == [[4, "pcs_02"], [8, "ppt_local_kpa"]]


def test_validate_file_in_chunks_equals_one_pass(tmp_path, small_cohort):
    frame = small_cohort.frame.astype("str").replace({"nan": "", "<NA>": ""})
    frame.loc[[5, 150, 299], "sex"] = "x"
    frame.loc[200, "participant_id"] = frame.loc[10, "participant_id"]
    path = tmp_path / "c.csv"
    frame.to_csv(path, index=False)
    whole = validate_file(path, report=tmp_path / "a.csv", chunk_size=10_000)
    chunked = validate_file(path, report=tmp_path / "b.csv", chunk_size=7)
    assert (tmp_path / "a.csv").read_text() == (tmp_path / "b.csv").read_text()
    assert whole.n_issues == chunked.n_issues == 4


def test_read_valid_cohort_raises_with_every_issue(tmp_path, small_cohort):
    frame = small_cohort.frame.head(20).copy()
    frame.loc[[2, 9], "hads_03"] = 7
    frame.to_csv(tmp_path / "c.csv", index=False)
    with pytest.raises(CohortValidationError, match=r"2 problem\(s\) in 2 row\(s\): row 3") as err:
        read_valid_cohort(tmp_path / "c.csv")
    assert err.value.issues["row"].tolist() == [3, 10]


def test_read_valid_cohort_round_trips_the_simulator(cohort_csv, small_cohort):
    frame = read_valid_cohort(cohort_csv)
    expected = small_cohort.frame
    assert frame["participant_id"].tolist() == expected["participant_id"].tolist()
    np.testing.assert_allclose(frame["eih_ppt_post_kpa"], expected["eih_ppt_post_kpa"])
    assert frame["population"].dtype == "category"


NUMERIC = [c for c in COLUMNS if c.is_numeric and c.min is not None and c.max is not None]


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(NUMERIC), st.floats(allow_nan=False, allow_infinity=False,
                                           min_value=-1e6, max_value=1e6))
def test_range_rule_accepts_exactly_the_documented_interval(spec, value):
    frame = pd.DataFrame({"participant_id": ["a"], "sex": ["male"], spec.name: [repr(value)]})
    ok = bool(validate_frame(frame).valid[0])
    inside = (value > spec.min if spec.min_exclusive else value >= spec.min) and value <= spec.max
    if spec.kind == "integer":
        inside = inside and float(value).is_integer()
    assert ok == inside


def test_a_non_utf8_byte_deep_in_the_file_names_the_file_and_row(tmp_path):
    from eihpredict.cohort_io import CohortFileError
    from eihpredict.simulate import simulate_cohort

    path = tmp_path / "latin.csv"
    simulate_cohort(2000, seed=1).frame.to_csv(path, index=False)
    data = path.read_bytes()
    at = data.index(b"\n", 100_000) + 5  # well past the 64 KB the header check reads
    path.write_bytes(data[:at] + b"\xff" + data[at:])
    row = data[:at].count(b"\n")
    with pytest.raises(CohortFileError, match=rf"latin.csv: not UTF-8 text in data row {row}"):
        validate_file(path)


def test_thousands_separator_lookalikes_are_refused_not_read_small():
    frame = pd.DataFrame({"participant_id": [str(i) for i in range(8)], "sex": ["male"] * 8,
                          "ppt_local_kpa": ["400", "350.5", "12.500", "1.000", "420", "380",
                                            "410", "400.000"]})
    result = validate_frame(frame)
    flagged = result.issues[result.issues["rule"].str.contains("thousands separator")]
    assert flagged["value"].tolist() == ["12.500", "1.000"]
    assert result.valid.tolist() == [True, True, False, False, True, True, True, True]
    assert result.frame.loc[7, "ppt_local_kpa"] == 400.0  # three decimals, same scale: fine

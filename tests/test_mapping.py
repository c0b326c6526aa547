"""Study mappings: names, codes, units, trials, questionnaire versions, constants."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from study_export import KG, MAPPING, redcap_export

from eihpredict.mapping import MappingError, StudyMapping, code_key, unit_factor
from eihpredict.schema import COLUMN_BY_NAME
from eihpredict.simulate import simulate_cohort
from eihpredict.validation import validate_frame


def mapping_of(**data) -> StudyMapping:
    return StudyMapping.from_dict(data)


@pytest.fixture(scope="module")
def cohort() -> pd.DataFrame:
    return simulate_cohort(120, seed=5).frame


# -- loading -----------------------------------------------------------------------------

def test_load_reads_the_documented_yaml(tmp_path):
    path = tmp_path / "study.yaml"
    path.write_text(
        "format: 1\n"
        "study: demo\n"
        "columns:\n"
        "  participant_id: record_id\n"
        "  sex: {from: gender, codes: {1: female, 2: male}}\n"
        "  ppt_local_kpa: {average: [t1, t2], unit: kg/cm2}\n"
        "constants:\n"
        "  exercise_modality: isometric\n")
    mapping = StudyMapping.load(path)
    assert mapping.source_columns == ["record_id", "gender", "t1", "t2"]
    assert mapping.contract_columns == ["participant_id", "sex", "ppt_local_kpa",
                                        "exercise_modality"]
    assert mapping.declared_units == {"ppt_local_kpa": "kg/cm2"}


@pytest.mark.parametrize(("text", "message"), [
    ("colums: {}\n", "unknown key 'colums'"),
    ("columns:\n  sexx: gender\n", "'sexx' is not a contract column (did you mean 'sex'?)"),
    ("columns:\n  sex: {from: gender, codes: {1: woman}}\n",
     "'woman' is not a value of sex (female, male)"),
    ("columns:\n  sex: {from: gender, codes: {1: female, '1.0': male}}\n",
     "lists code '1.0' twice"),
    ("columns:\n  sex: {from: gender, codes: {1: female, 1.0: male}}\n",
     "not valid YAML at line 2, column 42: key 1.0 is given twice"),
    ("columns:\n  sex: {from: gender, codes: {yes: female}}\n", "reads as true/false"),
    ("columns:\n  ppt_local_kpa: {from: p, unit: bar}\n",
     "unit 'bar' is not one ppt_local_kpa (kPa) converts from"),
    ("columns:\n  pcs_total: {from: p, unit: kg/cm2}\n", "pcs_total has no unit"),
    ("columns:\n  ppt_local_kpa: {from: p, average: [a, b]}\n", "exactly one of 'from'"),
    ("columns:\n  ppt_local_kpa: {from: p, rule: median}\n", "rule applies to 'average'"),
    ("columns:\n  ppt_local_kpa: {from: p, unit: kPa, colour: red}\n",
     "unknown key 'columns.ppt_local_kpa.colour'"),
    ("columns:\n  sex: gender\n  sex: sexe\n", "key 'sex' is given twice"),
    ("columns:\n  exercise_modality: m\nconstants:\n  exercise_modality: aerobic\n",
     "given both in columns and in constants"),
    ("constants:\n  exercise_modality: swimming\n", "'swimming' is not a value of "
     "exercise_modality"),
    ("items:\n  tsk11: [a, b]\n", "items.tsk11 lists 2 columns; the TSK11 has 11 items"),
    ("format: 2\n", "format"),
    ("- a\n- b\n", "expected a mapping of keys"),
])
def test_load_refuses_a_bad_file_naming_the_key(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(MappingError, match="bad.yaml") as err:
        StudyMapping.load(path)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_missing_mapping_file_is_named(tmp_path):
    with pytest.raises(MappingError, match="no such mapping file"):
        StudyMapping.load(tmp_path / "nope.yaml")


def test_to_dict_round_trips_through_json(tmp_path):
    mapping = StudyMapping.from_dict(MAPPING)
    data = json.loads(json.dumps(mapping.to_dict()))
    assert StudyMapping.from_dict(data) == mapping
    path = tmp_path / "m.yaml"
    path.write_text(mapping.to_yaml())
    assert StudyMapping.load(path) == mapping


# -- codes -------------------------------------------------------------------------------

def test_code_key_makes_1_1dot0_and_text_1_alike():
    assert {code_key(v) for v in (1, 1.0, "1", "1.0", " 1 ", np.int64(1), np.float64(1.0))} \
        == {"1"}
    assert code_key(float("nan")) is None and code_key(" ") is None


@pytest.mark.parametrize("gender", [
    pd.Series([1, 2, 1]),
    pd.Series([1.0, 2.0, 1.0]),
    pd.Series(["1", "2", "1"]),
    pd.Series(["1.0", "2.0", "1.0"]),
])
def test_codes_match_numbers_and_text_alike(gender):
    mapping = mapping_of(columns={"sex": {"from": "gender", "codes": {1: "female",
                                                                       "2": "male"}}})
    frame, report = mapping.apply(pd.DataFrame({"gender": gender}))
    assert frame["sex"].tolist() == ["female", "male", "female"]
    assert report.ok and report.recoded["sex"] == {"1": 2, "2": 1}


def test_blanks_making_the_column_float_still_map():
    mapping = mapping_of(columns={"sex": {"from": "gender", "codes": {1: "female", 2: "male"}}})
    frame, report = mapping.apply(pd.DataFrame({"gender": [2.0, np.nan, 1.0]}))
    assert frame["sex"].tolist()[0::2] == ["male", "female"]
    assert pd.isna(frame["sex"].iloc[1])
    assert report.ok


def test_unmapped_codes_are_errors_with_column_value_count_and_rows():
    mapping = mapping_of(columns={"participant_id": "id",
                                  "sex": {"from": "gender", "codes": {1: "female", 2: "male"}}})
    raw = pd.DataFrame({"id": ["a", "b", "c", "d", "e"], "gender": [1, 3, 2, 3, 9]})
    frame, report = mapping.apply(raw, first_row=11)
    assert not report.ok
    assert [(u.column, u.contract_column, u.value, u.count, u.rows)
            for u in report.unmapped_values] == [("gender", "sex", "3", 2, [12, 14]),
                                                  ("gender", "sex", "9", 1, [15])]
    assert report.issues[["row", "participant_id", "column", "value"]].values.tolist() == [
        [12, "b", "sex", "3"], [14, "d", "sex", "3"], [15, "e", "sex", "9"]]
    assert "add it to columns.sex.codes" in report.issues["rule"].iloc[0]
    assert frame["sex"].isna().tolist() == [False, True, False, True, True]
    assert "value '3' in 2 row(s) (rows 12, 14)" in report.error_lines()[0]


def test_contract_values_pass_a_code_map_text_that_is_not_does_not():
    mapping = mapping_of(columns={"sex": {"from": "gender", "codes": {1: "female", 2: "male"}}})
    frame, report = mapping.apply(pd.DataFrame({"gender": ["Male", "1", "weiblich"]}))
    assert frame["sex"].tolist()[:2] == ["male", "female"]
    assert [u.value for u in report.unmapped_values] == ["weiblich"]
    assert report.recoded["sex"] == {"1": 1, "(contract value)": 1}


def test_numeric_codes_must_cover_every_value():
    """Recoding TSK items 0-3 to 1-4: a 4 (not listed) is an error, never passed as 4."""
    codes = {0: 1, 1: 2, 2: 3, 3: 4}
    mapping = mapping_of(columns={"tsk_01": {"from": "q1", "codes": codes}})
    frame, report = mapping.apply(pd.DataFrame({"q1": [0, 3, 4, None]}))
    assert frame["tsk_01"].tolist()[:2] == [1.0, 4.0]
    assert np.isnan(frame["tsk_01"].iloc[2])
    assert [(u.value, u.rows) for u in report.unmapped_values] == [("4.0", [3])]


def test_missing_codes_become_missing_and_are_counted():
    mapping = mapping_of(columns={"age_years": {"from": "age", "missing": [99, -9]}})
    frame, report = mapping.apply(pd.DataFrame({"age": ["34", "99", "-9", "51"]}))
    assert frame["age_years"].tolist()[0::3] == ["34", "51"]
    assert frame["age_years"].isna().tolist() == [False, True, True, False]
    assert report.missing_codes == {"age_years": 2} and report.ok


# -- units and trials --------------------------------------------------------------------

def test_unit_factors_follow_the_definitions():
    spec = COLUMN_BY_NAME["ppt_local_kpa"]
    g = 9.80665          # standard gravity, m/s2 (exact, by definition)
    pound = 0.45359237   # kg (exact, by definition)
    assert unit_factor(spec, "kg/cm2") == pytest.approx(g * 1e4 / 1e3)
    assert unit_factor(spec, "N/cm2") == pytest.approx(1e4 / 1e3)
    assert unit_factor(spec, "lbf/cm2") == pytest.approx(pound * g * 1e4 / 1e3)
    assert unit_factor(spec, "psi") == pytest.approx(pound * g / 0.0254**2 / 1e3)
    assert unit_factor(spec, "kPa") == 1.0
    assert unit_factor(COLUMN_BY_NAME["physical_activity_met_min_week"], "MET-h/week") == 60


@pytest.mark.parametrize(("unit", "value", "kpa"), [
    ("kg/cm2", 4.0, 4.0 * KG), ("N/cm2", 40.0, 400.0), ("lbf/cm2", 10.0, 444.82216152605),
    ("kPa", 400.0, 400.0)])
def test_units_convert_to_kpa(unit, value, kpa):
    mapping = mapping_of(columns={"ppt_local_kpa": {"from": "ppt", "unit": unit}})
    frame, report = mapping.apply(pd.DataFrame({"ppt": [str(value), ""]}))
    assert frame["ppt_local_kpa"].iloc[0] == pytest.approx(kpa)
    assert np.isnan(frame["ppt_local_kpa"].iloc[1])
    assert report.converted["ppt_local_kpa"]["unit"] == unit


@pytest.mark.parametrize(("rule", "expected"), [
    ("mean", [3.0, 4.0, np.nan]),
    ("complete_mean", [3.0, np.nan, np.nan]),
    ("median", [3.0, 4.0, np.nan]),
    ("first", [2.0, 4.0, np.nan]),
])
def test_trial_rules(rule, expected):
    mapping = mapping_of(columns={"ppt_local_kpa": {"average": ["t1", "t2", "t3"],
                                                    "rule": rule}})
    raw = pd.DataFrame({"t1": [2.0, np.nan, np.nan], "t2": [3.0, 4.0, np.nan],
                        "t3": [4.0, np.nan, np.nan]})
    frame, report = mapping.apply(raw)
    np.testing.assert_array_equal(frame["ppt_local_kpa"].to_numpy(), expected)
    assert report.averaged["ppt_local_kpa"]["rows_fewer_trials"] == 1


def test_text_in_a_trial_is_an_error_not_a_silent_missing():
    mapping = mapping_of(columns={"participant_id": "id",
                                  "ppt_local_kpa": {"average": ["t1", "t2"], "unit": "kg/cm2"}})
    raw = pd.DataFrame({"id": ["a", "b"], "t1": ["4,1", "4.0"], "t2": ["NaN", "4.2"]})
    frame, report = mapping.apply(raw)
    assert report.issues[["row", "participant_id", "column", "value"]].values.tolist() == [
        [1, "a", "ppt_local_kpa", "4,1"], [1, "a", "ppt_local_kpa", "NaN"]]
    assert "must hold numbers to be averaged" in report.issues["rule"].iloc[0]
    assert frame["ppt_local_kpa"].iloc[1] == pytest.approx(4.1 * KG)


def test_some_trial_columns_missing_is_refused_all_missing_is_reported():
    mapping = mapping_of(columns={"participant_id": "id",
                                  "ppt_local_kpa": {"average": ["ppt_t1", "ppt_t2"]}})
    with pytest.raises(MappingError, match=r"lacks 'ppt_t2' of the trials .*\(the file has "
                                           r"'ppt_t_2'\)"):
        mapping.apply(pd.DataFrame({"id": ["a"], "ppt_t1": [400.0], "ppt_t_2": [410.0]}))
    frame, report = mapping.apply(pd.DataFrame({"id": ["a"]}))
    assert "ppt_local_kpa" not in frame
    assert report.absent == {"ppt_local_kpa": ["ppt_t1", "ppt_t2"]}
    assert "which the file lacks" in report.warning_lines()[0]


# -- questionnaire versions, constants, pass-through --------------------------------------

def test_tsk11_items_fill_the_tsk17_item_numbers():
    names = [f"t11_{i}" for i in range(1, 12)]
    mapping = mapping_of(items={"tsk11": names}, columns={"participant_id": "id"})
    raw = pd.DataFrame({"id": ["a"], **{n: [i % 4 + 1] for i, n in enumerate(names)}})
    frame, _ = mapping.apply(raw)
    filled = [c for c in frame.columns if c.startswith("tsk_")]
    assert filled == ["tsk_01", "tsk_02", "tsk_03", "tsk_05", "tsk_06", "tsk_07", "tsk_10",
                      "tsk_11", "tsk_13", "tsk_15", "tsk_17"]


def test_item_offsets_shift_mapped_items():
    mapping = mapping_of(items={"tsk": [f"q{i}" for i in range(1, 18)]}, item_offsets={"tsk": 1})
    raw = pd.DataFrame({f"q{i}": [0, 3] for i in range(1, 18)})
    frame, report = mapping.apply(raw)
    assert frame["tsk_04"].tolist() == [1.0, 4.0]
    assert report.offsets["tsk_04"] == 1


def test_constants_fill_every_row_and_clash_with_a_file_column():
    mapping = mapping_of(constants={"exercise_modality": "Isometric",
                                    "exercise_duration_min": 2})
    frame, report = mapping.apply(pd.DataFrame({"x": [1, 2]}))
    assert frame["exercise_modality"].tolist() == ["isometric"] * 2
    assert frame["exercise_duration_min"].tolist() == [2.0, 2.0]
    with pytest.raises(MappingError, match="the file has a column 'exercise_modality'"):
        mapping.apply(pd.DataFrame({"exercise_modality": ["aerobic"]}))


def test_unmapped_columns_pass_through_and_are_listed_dropped_ones_vanish():
    mapping = mapping_of(columns={"participant_id": "id"}, drop=["name"])
    frame, report = mapping.apply(pd.DataFrame({"id": ["a"], "name": ["Ann"], "sex": ["female"],
                                                "notes": ["x"]}))
    assert list(frame.columns) == ["participant_id", "sex", "notes"]
    assert list(report.unmapped_columns) == ["notes"]
    assert list(report.as_named) == ["sex"]
    assert list(report.dropped) == ["name"]


def test_a_contract_column_both_present_and_mapped_is_refused():
    mapping = mapping_of(columns={"sex": "gender"})
    with pytest.raises(MappingError, match="has a column 'sex' and the mapping fills sex"):
        mapping.apply(pd.DataFrame({"gender": ["male"], "sex": ["male"]}))


def test_header_predicts_the_mapped_columns():
    mapping = StudyMapping.from_dict(MAPPING)
    export, _ = redcap_export(simulate_cohort(10, seed=1).frame)
    frame, _ = mapping.apply(export)
    assert mapping.header(list(export.columns)) == list(frame.columns)


# -- a whole study export ------------------------------------------------------------------

def test_redcap_export_maps_onto_the_contract(cohort):
    export, expected = redcap_export(cohort)
    export.loc[[4, 9], "gender"] = np.nan  # blanks make the coded column float
    expected.loc[[4, 9], "sex"] = None
    frame, report = StudyMapping.from_dict(MAPPING).apply(export)
    assert report.ok, report.error_lines()
    assert list(report.unmapped_columns) == ["visit_notes"]
    assert "redcap_event_name" not in frame
    checked = validate_frame(frame.drop(columns="visit_notes"))
    wrong = checked.issues
    assert set(wrong["row"]) == {5, 10} and set(wrong["column"]) == {"sex"}
    got = checked.frame
    assert got["participant_id"].tolist() == expected["participant_id"].tolist()
    for column in ("ppt_local_kpa", "eih_ppt_post_kpa", "tsk11_total", "hads_anxiety"):
        np.testing.assert_allclose(got[column], expected[column], rtol=1e-12, err_msg=column)
    assert (got["exercise_modality"] == "isometric").all()
    assert report.missing_codes["hads_anxiety"] == int(expected["hads_anxiety"].isna().sum())


def test_apply_record_equals_apply_row_by_row(cohort):
    mapping = StudyMapping.from_dict(MAPPING)
    export, _ = redcap_export(cohort.head(40))
    export.loc[3, "gender"] = np.nan
    export.loc[5, "ppt_l_t2_kg"] = np.nan
    frame, _ = mapping.apply(export)
    for i, record in enumerate(export.to_dict("records")):
        record = {k: v for k, v in record.items() if not (isinstance(v, float) and
                                                          math.isnan(v))}
        mapped = mapping.apply_record(record)
        row = frame.iloc[i]
        assert set(mapped) | {c for c in frame.columns if pd.isna(row[c])} == set(frame.columns)
        for column, value in mapped.items():
            expected = row[column]
            if isinstance(expected, float) and not isinstance(value, str):
                assert (value is None and np.isnan(expected)) or value == expected, column
            else:
                assert value == expected, column


def test_apply_record_names_every_unmapped_field():
    mapping = StudyMapping.from_dict(MAPPING)
    with pytest.raises(MappingError, match=r"field 'gender' \(sex\): value 3 is not in the "
                                           r"mapping's codes.*field 'group' \(population\): "
                                           r"value 'case'"):
        mapping.apply_record({"record_id": 1, "gender": 3, "group": "case"})
    with pytest.raises(MappingError, match=r"field 'ppt_pre_t1_kg' \(eih_ppt_pre_kpa\): "
                                           r"value 'x' is not a number"):
        mapping.apply_record({"record_id": 1, "ppt_pre_t1_kg": "x"})


def test_chunk_reports_add_up(cohort):
    mapping = StudyMapping.from_dict(MAPPING)
    export, _ = redcap_export(cohort)
    export.loc[[3, 70], "gender"] = 3.0
    _, whole = mapping.apply(export)
    _, first = mapping.apply(export.iloc[:50], first_row=1)
    _, second = mapping.apply(export.iloc[50:], first_row=51)
    first.update(second)
    assert [(u.value, u.count, u.rows) for u in first.unmapped_values] == [
        (u.value, u.count, u.rows) for u in whole.unmapped_values] == [("3.0", 2, [4, 71])]
    assert first.recoded == whole.recoded
    assert first.converted == whole.converted
    assert first.issues.equals(whole.issues)


# -- validating a study file through its mapping --------------------------------------------

def test_validate_file_applies_the_mapping(tmp_path, cohort):
    from eihpredict.cohort_io import CohortFileError
    from eihpredict.validation import read_valid_cohort, validate_file

    export, expected = redcap_export(cohort)
    export.loc[[6, 30], "gender"] = 3.0
    path = tmp_path / "export.csv"
    export.to_csv(path, index=False)
    with pytest.raises(CohortFileError, match="missing required column"):
        validate_file(path)
    mapping = StudyMapping.from_dict(MAPPING)
    summary = validate_file(path, mapping=mapping, report=tmp_path / "r.csv")
    assert (summary.n_issues, summary.n_invalid_rows) == (2, 2)  # once each, not twice
    report = pd.read_csv(tmp_path / "r.csv", dtype=str)
    assert report[["row", "participant_id", "column", "value"]].values.tolist() == [
        ["7", "7", "sex", "3.0"], ["31", "31", "sex", "3.0"]]
    assert summary.unknown_columns == ["visit_notes"]
    assert summary.mapping.unmapped_values[0].rows == [7, 31]
    assert any(line.startswith("converted ppt_local_kpa: kg/cm2 -> kPa")
               for line in summary.mapping.lines())
    export.loc[[6, 30], "gender"] = 1.0
    export.to_csv(path, index=False)
    frame = read_valid_cohort(path, mapping=mapping)
    np.testing.assert_allclose(frame["eih_ppt_pre_kpa"], expected["eih_ppt_pre_kpa"],
                               rtol=1e-12)


def test_sav_export_codes_stay_codes_when_the_mapping_maps_them(tmp_path, cohort):
    import pyreadstat

    from eihpredict.validation import read_valid_cohort

    export, expected = redcap_export(cohort.head(30))
    export = export.drop(columns=["redcap_event_name", "visit_notes"])
    export["record_id"] = export["record_id"].astype("float64")
    labels = {"gender": {1.0: "Female", 2.0: "Male"}, "group": {}}
    pyreadstat.write_sav(export, str(tmp_path / "e.sav"), variable_value_labels=labels)
    frame = read_valid_cohort(tmp_path / "e.sav", mapping=StudyMapping.from_dict(MAPPING))
    assert frame["sex"].astype(str).tolist() == expected["sex"].tolist()
    assert frame["participant_id"].tolist() == [str(i) for i in range(1, 31)]
    # Without codes in the mapping the labels are applied, and are contract values.
    plain = dict(MAPPING, columns={**MAPPING["columns"], "sex": "gender"})
    frame = read_valid_cohort(tmp_path / "e.sav", mapping=StudyMapping.from_dict(plain))
    assert frame["sex"].astype(str).tolist() == expected["sex"].tolist()


def test_many_distinct_unmapped_values_are_capped_and_counted():
    """Codes on a continuous column by mistake: 50 values listed, the rest counted."""
    mapping = mapping_of(columns={"sex": {"from": "gender", "codes": {1: "female"}}})
    raw = pd.DataFrame({"gender": np.arange(2, 1002, dtype="float64")})
    _, report = mapping.apply(raw)
    assert len(report.unmapped_values) == 50
    assert report.more_unmapped == {"gender": 950}
    assert report.n_issues == 1000
    assert "950 more cell(s)" in report.error_lines()[-1]


def test_map_reports_what_the_unit_check_saw(tmp_path):
    """Issue 25: the report said `kPa -> kPa (x 1, 0 value(s))` and nothing else."""
    from eihpredict.mapping import map_file

    study = pd.DataFrame({"id": ["a", "b", "c"], "sex": "male", "ppt": [310.0, 420.0, 505.0]})
    study.to_csv(tmp_path / "s.csv", index=False)
    mapping = StudyMapping.from_dict({"columns": {"participant_id": "id", "ppt_local_kpa": {
        "from": "ppt", "unit": "kPa"}}})
    lines = map_file(tmp_path / "s.csv", mapping, tmp_path / "out.csv").lines()
    assert "converted ppt_local_kpa: kPa -> kPa (x 1, 3 value(s))" in lines
    (check,) = [line for line in lines if line.startswith("unit check ppt_local_kpa")]
    assert check.startswith("unit check ppt_local_kpa (declared kPa, checked after conversion"
                            "): 3 value(s), median ")
    assert check.endswith("; plausible as kPa")

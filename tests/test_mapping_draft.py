"""`map --init`: a draft from a file's header and values, every guess explained."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from eihpredict._draft import draft_mapping
from eihpredict.mapping import MappingError, StudyMapping
from eihpredict.schema import TSK11_ITEMS
from eihpredict.simulate import simulate_cohort


@pytest.fixture(scope="module")
def cohort() -> pd.DataFrame:
    return simulate_cohort(80, seed=12).frame


def columns_of(draft) -> dict:
    """The draft's `columns` once its TODOs are decided (or as drafted if none)."""
    return yaml.safe_load(draft.text)["columns"]


def test_text_codes_names_items_and_units_are_drafted(tmp_path, cohort):
    study = pd.DataFrame({
        "Subject ID": cohort["participant_id"],
        "Gender": cohort["sex"].map({"female": "F", "male": "M"}),
        "Diagnosis": np.where(cohort["population"] == "healthy", "Control", "FM"),
        **{f"PCS{i}": cohort[f"pcs_{i:02d}"] for i in range(1, 14)},
        "PPT quad (kg/cm2)": cohort["ppt_local_kpa"] / 98.0665,
        "Age": cohort["age_years"],
    })
    path = tmp_path / "study.csv"
    study.to_csv(path, index=False)
    draft = draft_mapping(path)
    columns = columns_of(draft)
    assert columns["participant_id"] == "Subject ID"
    # Codes are stored in their matching form (lower case): "F", "f" and " F " alike.
    assert columns["sex"] == {"from": "Gender", "codes": {"f": "female", "m": "male"}}
    assert columns["population"]["codes"] == {"fm": "fibromyalgia", "control": "healthy"}
    assert columns["pcs_13"] == "PCS13" and columns["age_years"] == "Age"
    assert columns["ppt_local_kpa"] == {"from": "PPT quad (kg/cm2)", "unit": "kg/cm2"}
    assert draft.complete and not draft.unmapped_columns
    mapping = StudyMapping.from_dict(yaml.safe_load(draft.text))
    frame, report = mapping.apply(study)
    assert report.ok
    np.testing.assert_allclose(frame["ppt_local_kpa"], cohort["ppt_local_kpa"], rtol=1e-12)


def test_numeric_codes_are_left_to_decide_and_the_draft_refuses_to_load(tmp_path, cohort):
    study = pd.DataFrame({"record_id": range(1, 81),
                          "sex": cohort["sex"].map({"female": 1, "male": 2})})
    path = tmp_path / "s.csv"
    study.to_csv(path, index=False)
    draft = draft_mapping(path)
    assert draft.unmapped_values == ["sex -> sex: value(s) 1, 2 could not be mapped (TODO)"]
    assert "TODO: decide 1 (" in draft.text
    (tmp_path / "m.yaml").write_text(draft.text)
    with pytest.raises(MappingError, match=r"columns.sex.codes\['1'\]: 'TODO' is not a value "
                                           r"of sex \(female, male\)"):
        StudyMapping.load(tmp_path / "m.yaml")


def test_sav_value_labels_decide_the_codes(tmp_path, cohort):
    import pyreadstat

    study = pd.DataFrame({"record_id": np.arange(1.0, 81.0),
                          "gender": cohort["sex"].map({"female": 1.0, "male": 2.0}),
                          "tsk1": cohort["tsk_01"].astype("float64")})
    pyreadstat.write_sav(study, str(tmp_path / "s.sav"), variable_value_labels={
        "gender": {1.0: "weiblich", 2.0: "männlich"},
        "tsk1": {1.0: "strongly disagree", 4.0: "strongly agree"}})
    draft = draft_mapping(tmp_path / "s.sav")
    columns = columns_of(draft)
    assert columns["sex"]["codes"] == {"weiblich": "female", "männlich": "male"}
    assert columns["tsk_01"] == "tsk1"  # the item keeps its codes despite its labels
    frame = __import__("eihpredict").read_valid_cohort(
        tmp_path / "s.sav", mapping=StudyMapping.from_dict(yaml.safe_load(draft.text)))
    assert frame["sex"].astype(str).tolist() == cohort["sex"].tolist()


def test_tsk_totals_in_11_44_are_drafted_as_tsk11_even_named_like_an_item(tmp_path, cohort):
    tsk11 = cohort[[f"tsk_{i:02d}" for i in TSK11_ITEMS]].sum(axis=1, skipna=False)
    for name in ("tsk", "tsk_11", "TSK_total"):
        study = pd.DataFrame({"id": cohort["participant_id"], "gender": cohort["sex"],
                              name: tsk11})
        path = tmp_path / f"{name}.csv"
        study.to_csv(path, index=False)
        columns = columns_of(draft_mapping(path))
        assert columns.get("tsk11_total") == name, (name, columns)
        assert "tsk_total" not in columns and "tsk_11" not in columns


def test_unit_guessed_from_values_is_marked_check_and_trials_are_grouped(tmp_path, cohort):
    kg = cohort["ppt_remote_kpa"] / 98.0665
    study = pd.DataFrame({"id": cohort["participant_id"], "sex": cohort["sex"],
                          "ppt_remote_1": kg + 0.1, "ppt_remote_2": kg - 0.1})
    path = tmp_path / "s.csv"
    study.to_csv(path, index=False)
    draft = draft_mapping(path)
    assert columns_of(draft)["ppt_remote_kpa"] == {
        "average": ["ppt_remote_1", "ppt_remote_2"], "unit": "kg/cm2"}
    assert "CHECK: every value is below 20" in draft.text


def test_missing_value_codes_and_unmatched_columns_are_reported(tmp_path, cohort):
    study = pd.DataFrame({"id": cohort["participant_id"], "sex": cohort["sex"],
                          "age": cohort["age_years"].where(cohort.index % 7 != 0, 999),
                          "favourite_colour": "blue", "empty": np.nan})
    path = tmp_path / "s.csv"
    study.to_csv(path, index=False)
    draft = draft_mapping(path)
    assert columns_of(draft)["age_years"] == {"from": "age", "missing": [999]}
    assert draft.unmapped_columns == [
        "favourite_colour (no contract column matches the name)", "empty (empty)"]


# -- issue 25: meaning checks, not only ranges ---------------------------------------------

@pytest.fixture(scope="module")
def lab_export(tmp_path_factory, cohort):
    """A REDCap-like export: knee and shoulder PPTs in newtons (two trials each), three
    derived CPM effects, PCS items coded 1-5, a group code with one blank."""
    n = len(cohort)
    effect = cohort["cpm_test_after_kpa"] - cohort["cpm_test_before_kpa"]
    study = pd.DataFrame({
        "record_id": range(1, n + 1),
        "group": np.where(cohort["population"] == "healthy", "1", "2").astype(object),
        "sex": cohort["sex"],
        "ppt_knee_t1": cohort["ppt_local_kpa"] / 10, "ppt_knee_t2": cohort["ppt_local_kpa"] / 10,
        "ppt_shoulder_t1": cohort["ppt_remote_kpa"] / 10,
        "ppt_shoulder_t2": cohort["ppt_remote_kpa"] / 10,
        "cpm_abs": effect, "cpm_pct": 100 * effect / cohort["cpm_test_before_kpa"],
        "cpm_median_change": effect.abs(),
        **{f"pcs_{i}": cohort[f"pcs_{i:02d}"] + 1 for i in range(1, 14)},
    })
    study.loc[5, "group"] = None
    path = tmp_path_factory.mktemp("lab") / "lab.csv"
    study.to_csv(path, index=False)
    return path, study


def test_draft_never_averages_two_sites_nor_derived_effects(lab_export):
    """Issue 25: knee and shoulder PPTs were averaged into ppt_local_kpa, and cpm_abs,
    cpm_pct and a median change into cpm_test_before_kpa."""
    path, _ = lab_export
    draft = draft_mapping(path)
    columns = columns_of(draft)
    assert columns["ppt_local_kpa"]["average"] == ["ppt_knee_t1", "ppt_knee_t2"]
    assert "cpm_test_before_kpa" not in columns and "cpm_test_after_kpa" not in columns
    unmapped = "\n".join(draft.unmapped_columns)
    for name in ("ppt_shoulder_t1", "ppt_shoulder_t2"):
        assert f"{name} (would also fill ppt_local_kpa" in unmapped
    assert "trials of different sites are never averaged" in unmapped
    for name, word in (("cpm_abs", "abs"), ("cpm_pct", "pct"), ("cpm_median_change", "change")):
        assert f"{name} (a derived effect ('{word}' in the name)" in unmapped
    # A difference column named like a raw PPT is caught by its negative values.
    frame = pd.read_csv(path)
    other = frame[["record_id", "sex"]].assign(ppt_cpm_t2=frame["cpm_abs"])
    other.to_csv(path.with_name("neg.csv"), index=False)
    negative = draft_mapping(path.with_name("neg.csv"))
    assert "cpm_test_after_kpa" not in columns_of(negative)
    assert "negative values" in negative.unmapped_columns[0]


def test_draft_names_a_1_to_5_coding_of_the_pcs_and_suggests_the_offset(lab_export, cohort):
    path, study = lab_export
    draft = draft_mapping(path)
    mapping = yaml.safe_load(draft.text)
    assert mapping["item_offsets"] == {"pcs": -1}
    fives = int((study[[f"pcs_{i}" for i in range(1, 14)]] == 5).sum().sum())
    assert f"PCS items look coded 1-5, not 0-4: {fives} of" in draft.text
    # Every item is mapped explicitly (the offset applies to mapped items only).
    assert all(mapping["columns"][f"pcs_{i:02d}"] == f"pcs_{i}" for i in range(1, 14))


def test_draft_and_mapping_report_blank_group_codes(lab_export):
    path, _ = lab_export
    draft = draft_mapping(path)
    assert "CHECK: 1 blank cell(s) in group will be a missing population" in draft.text
    mapping = StudyMapping.from_dict({"columns": {
        "participant_id": "record_id",
        "population": {"from": "group", "codes": {"1": "healthy", "2": "fibromyalgia"}}}})
    _, report = mapping.apply(pd.read_csv(path))
    assert report.ok
    (line,) = [w for w in report.warning_lines() if w.startswith("population")]
    assert line.startswith("population: 1 blank cell(s) in study column 'group' (rows 6)")

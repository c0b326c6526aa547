"""Values valid one by one but implausible together: wrong units and scales are named."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from eihpredict.mapping import StudyMapping
from eihpredict.schema import COLUMNS, TSK11_ITEMS
from eihpredict.simulate import SCENARIOS, simulate_cohort
from eihpredict.validation import (
    CohortValidationError,
    plausibility_issues,
    read_valid_cohort,
    validate_file,
)

# The pressures of a simulated v1 cohort (the v2 design columns are absent there).
KPA = [c.name for c in COLUMNS if c.unit == "kPa"
       and not c.name.startswith(("eih_ppt_local_", "eih_ppt_remote_", "eih_ppt_semi", "rest_"))]


@pytest.fixture(scope="module")
def cohort() -> pd.DataFrame:
    return simulate_cohort(200, seed=8).frame


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_simulated_cohorts_in_contract_units_are_plausible(scenario):
    frame = simulate_cohort(2000, seed=1, scenario=scenario).frame
    assert plausibility_issues(frame).empty
    for _, part in frame.groupby("population"):  # also each population alone
        assert plausibility_issues(part).empty


def test_ppts_in_kg_per_cm2_are_refused_naming_the_unit(tmp_path, cohort):
    """Issue 15: PPTs left in kg/cm2 passed validate and training without a word."""
    study = cohort.copy()
    study[KPA] = study[KPA] / 98.0665
    path = tmp_path / "kg.csv"
    study.to_csv(path, index=False)
    summary = validate_file(path, report=tmp_path / "r.csv")
    assert not summary.ok
    below_floor = int((study[KPA] < 0.5).any(axis=1).sum())  # the contract's 0.5 kPa floor
    assert (summary.n_invalid_rows, summary.n_file_issues) == (below_floor, len(KPA))
    report = pd.read_csv(tmp_path / "r.csv")
    report = report[report["row"] == 0]  # the file-level issues (rows below 1 kPa aside)
    assert report["column"].tolist() == KPA
    assert report["rule"].str.contains("every value is below 20").all()
    assert report["rule"].str.contains("look like kg/cm2").all()
    with pytest.raises(CohortValidationError, match="look like kg/cm2"):
        read_valid_cohort(path)


def test_declared_unit_converts_and_is_still_checked(tmp_path, cohort):
    study = cohort.copy()
    study[KPA] = study[KPA] / 98.0665
    path = tmp_path / "kg.csv"
    study.to_csv(path, index=False)
    mapping = StudyMapping.from_dict({"columns": {c: {"from": c, "unit": "kg/cm2"}
                                                  for c in KPA}})
    frame = read_valid_cohort(path, mapping=mapping)
    np.testing.assert_allclose(frame[KPA].to_numpy(), cohort[KPA].to_numpy(), rtol=1e-12)
    # Issue 25: declaring kPa switched the check off; now the values are checked after
    # conversion all the same, and a wrong declaration is named.
    low = cohort.copy()
    low[KPA] = low[KPA] / 30
    low_path = tmp_path / "low.csv"
    low.to_csv(low_path, index=False)
    assert validate_file(low_path).n_file_issues == len(KPA)
    as_is = StudyMapping.from_dict({"columns": {c: {"from": c, "unit": "kPa"} for c in KPA}})
    report = tmp_path / "r.csv"
    summary = validate_file(low_path, mapping=as_is, report=report)
    assert summary.n_file_issues == len(KPA)
    rules = pd.read_csv(report).query("row == 0")["rule"]
    assert rules.str.startswith("declared kPa, but").all()
    assert rules.str.contains("The declared unit looks wrong").all()
    # The mapping report says what was converted and what was checked, with numbers.
    lines = summary.mapping.lines()
    assert f"converted ppt_local_kpa: kPa -> kPa (x 1, {len(cohort)} value(s))" in lines
    (check,) = [line for line in lines if line.startswith("unit check ppt_local_kpa")]
    assert "declared kPa, checked after conversion" in check
    assert "refused: looks like N/cm2" in check


def test_ppts_in_newton_per_cm2_are_named(cohort):
    study = cohort.copy()
    study["ppt_local_kpa"] = study["ppt_local_kpa"] / 10
    (issue,) = plausibility_issues(study).to_dict("records")
    assert issue["column"] == "ppt_local_kpa" and "look like N/cm2" in issue["rule"]


def test_a_single_record_below_20_kpa_is_refused():
    """The service case: {"ppt_local_kpa": 3.8} was scored p = 0.22."""
    issues = plausibility_issues(pd.DataFrame({"participant_id": ["a"],
                                               "ppt_local_kpa": [3.8]}))
    assert issues["column"].tolist() == ["ppt_local_kpa"]
    # One low record in a plausible file is not a unit problem.
    assert plausibility_issues(pd.DataFrame({"ppt_local_kpa": [3.8] + [400.0] * 20})).empty


@pytest.mark.parametrize(("column", "transform", "phrase"), [
    ("age_years", lambda v: v * 12, "ages in months"),
    ("pain_intensity_nrs", lambda v: v * 10 + 5, "0-100 scale"),
    ("ts_last_nrs", lambda v: v * 10 + 5, "0-100 scale"),
    ("physical_activity_met_min_week", lambda v: v / 60, "MET-hours"),
    ("exercise_duration_min", lambda v: v * 60, "seconds rather than minutes"),
])
def test_other_implausible_scales_are_named(cohort, column, transform, phrase):
    study = cohort.copy()
    study[column] = transform(study[column])
    issues = plausibility_issues(study)
    assert issues["column"].tolist() == [column]
    assert phrase in issues["rule"].iloc[0]


def test_tsk11_totals_in_tsk_total_are_named(tmp_path, cohort):
    """Issue 15: TSK-11 totals (11-44) passed as TSK-17 totals."""
    study = cohort.drop(columns=[f"tsk_{i:02d}" for i in range(1, 18)])
    study["tsk_total"] = cohort[[f"tsk_{i:02d}" for i in TSK11_ITEMS]].sum(axis=1,
                                                                           skipna=False)
    issues = plausibility_issues(study)
    assert issues["column"].tolist() == ["tsk_total"]
    assert "look like TSK-11 totals" in issues["rule"].iloc[0]
    assert "tsk11_total" in issues["rule"].iloc[0]
    # The same values as tsk11_total are fine.
    renamed = study.rename(columns={"tsk_total": "tsk11_total"})
    assert plausibility_issues(renamed).empty


def test_checks_stream_over_chunks_like_one_pass(tmp_path, cohort):
    study = cohort.copy()
    study["age_years"] = study["age_years"] * 12
    path = tmp_path / "m.csv"
    study.to_csv(path, index=False)
    validate_file(path, report=tmp_path / "a.csv", chunk_size=7)
    validate_file(path, report=tmp_path / "b.csv")
    assert (tmp_path / "a.csv").read_text() == (tmp_path / "b.csv").read_text()
    assert "ages in months" in (tmp_path / "a.csv").read_text()


# -- issue 25: every pressure unit, judged by the distribution, on a file of any size ------

def _newtons(n: int, seed: int = 0) -> np.ndarray:
    """Algometer readings in newtons (1 cm2 probe) of PPTs around 300 kPa: 10-40 N or so."""
    rng = np.random.default_rng(seed)
    return np.round(np.exp(rng.normal(np.log(26.0), 0.3, n)), 1)


@pytest.mark.parametrize("n", [1, 3, 170, 5000])
def test_newtons_of_10_to_40_are_refused_naming_newtons_at_any_size(n):
    """Issue 25: values of 10-40 were not "below 20" everywhere and passed partly as kPa."""
    values = _newtons(n) if n > 1 else np.array([26.0])
    issues = plausibility_issues(pd.DataFrame({"ppt_local_kpa": values}))
    (rule,) = issues["rule"].tolist()
    assert "look like N/cm2 (newtons on a 1 cm2 probe, or N/cm2; x 10 = kPa)" in rule
    stated = float(re.search(r"Median ([0-9.]+) ", rule).group(1))  # from a histogram
    assert stated == pytest.approx(np.median(values), rel=0.015)
    assert "100 % as N/cm2" in rule and "probe_area_cm2" in rule
    # The same readings declared as newtons on a 1 cm2 probe are plausible kPa.
    converted = pd.DataFrame({"ppt_local_kpa": values * 10.0})
    assert plausibility_issues(converted, declared={"ppt_local_kpa": "N"}).empty


@pytest.mark.parametrize(("unit", "factor", "named"), [
    ("N/cm2", 10.0, "look like N/cm2"),
    ("kg/cm2", 98.0665, "look like kg/cm2"),
    ("lbf/cm2", 44.482216152605, "look like"),
])
def test_each_foreign_unit_is_named_from_the_distribution(cohort, unit, factor, named):
    study = cohort.copy()
    study["ppt_remote_kpa"] = study["ppt_remote_kpa"] / factor
    (issue,) = plausibility_issues(study).to_dict("records")
    assert issue["column"] == "ppt_remote_kpa" and named in issue["rule"]
    assert "% as kPa" in issue["rule"]  # the shares behind the verdict


def test_low_but_real_kpa_ppts_are_not_refused():
    """A fibromyalgia-like column (median about 150 kPa, some readings near 50) is kPa."""
    rng = np.random.default_rng(1)
    values = np.exp(rng.normal(np.log(150.0), 0.45, 300))
    assert plausibility_issues(pd.DataFrame({"ppt_local_kpa": values})).empty


def test_force_units_need_the_probe_area_and_convert_exactly(tmp_path):
    from eihpredict.mapping import MappingError

    with pytest.raises(MappingError, match=r"is a force.*add probe_area_cm2"):
        StudyMapping.from_dict({"columns": {"ppt_local_kpa": {"from": "p", "unit": "N"}}})
    with pytest.raises(MappingError, match="probe_area_cm2 goes with a force"):
        StudyMapping.from_dict({"columns": {"ppt_local_kpa": {
            "from": "p", "unit": "kg/cm2", "probe_area_cm2": 1}}})
    with pytest.raises(MappingError, match="probe_area_cm2 needs unit: N or lbf"):
        StudyMapping.from_dict({"columns": {"ppt_local_kpa": {"from": "p",
                                                              "probe_area_cm2": 1}}})
    with pytest.raises(MappingError, match="probe_area_cm2"):
        StudyMapping.from_dict({"columns": {"ppt_local_kpa": {
            "from": "p", "unit": "N", "probe_area_cm2": -1}}})
    values = _newtons(40)
    study = pd.DataFrame({"id": [f"s{i}" for i in range(40)], "gender": "female",
                          "ppt_n": values, "ppt_lbf": values / 4.4482216152605})
    path = tmp_path / "n.csv"
    study.to_csv(path, index=False)
    mapping = StudyMapping.from_dict({"columns": {
        "participant_id": "id", "sex": "gender",
        "ppt_local_kpa": {"from": "ppt_n", "unit": "N", "probe_area_cm2": 0.5},
        "ppt_remote_kpa": {"from": "ppt_lbf", "unit": "lbf", "probe_area_cm2": 1.0}}})
    frame = read_valid_cohort(path, mapping=mapping)
    np.testing.assert_allclose(frame["ppt_local_kpa"], values / 0.5 * 10, rtol=1e-12)
    np.testing.assert_allclose(frame["ppt_remote_kpa"], values * 10, rtol=1e-12)
    # Undeclared, the same file is refused naming newtons.
    plain = StudyMapping.from_dict({"columns": {"participant_id": "id", "sex": "gender",
                                                "ppt_local_kpa": "ppt_n"}})
    with pytest.raises(CohortValidationError, match="newtons on a 1 cm2 probe"):
        read_valid_cohort(path, mapping=plain)


def test_a_wrong_declared_unit_is_named(cohort):
    """kg/cm2 readings declared N/cm2 become 40-ish kPa: refused, off by about x 10."""
    study = cohort[["ppt_local_kpa"]] / 98.0665 * 10.0  # kg/cm2 values x 10 (as N/cm2)
    (rule,) = plausibility_issues(study, declared={"ppt_local_kpa": "N/cm2"})["rule"]
    assert rule.startswith("after converting the declared unit 'N/cm2' to kPa")
    assert "about x 10 too small" in rule and "The declared unit looks wrong" in rule


def test_a_1_to_5_coding_of_the_pcs_is_refused_for_the_whole_file(tmp_path, cohort):
    """Issue 25: PCS items coded 1-5 were refused only in rows with a 5; the others
    validated with every total 13 points too high."""
    items = [f"pcs_{i:02d}" for i in range(1, 14)]
    study = cohort.drop(columns=["pcs_total"], errors="ignore").copy()
    study[items] = study[items] + 1
    path = tmp_path / "pcs.csv"
    study.to_csv(path, index=False)
    report = tmp_path / "r.csv"
    summary = validate_file(path, report=report)
    issues = pd.read_csv(report)
    (rule,) = issues.loc[issues["row"] == 0, "rule"]
    fives = int((study[items] == 5).sum().sum())
    assert rule.startswith(f"the PCS items look coded 1-5, not 0-4: {fives} of")
    assert "item_offsets: {pcs: -1}" in rule
    assert summary.n_file_issues == 1
    rows_without_five = int((study[items] != 5).all(axis=1).sum())
    assert rows_without_five > 0  # those rows are refused with the file, not accepted
    with pytest.raises(CohortValidationError, match="look coded 1-5"):
        read_valid_cohort(path)
    # Declared, the recode gives the contract's answers back exactly.
    mapping = StudyMapping.from_dict({"columns": {c: c for c in items},
                                      "item_offsets": {"pcs": -1}})
    frame = read_valid_cohort(path, mapping=mapping)
    np.testing.assert_array_equal(frame[items].to_numpy(dtype=float),
                                  cohort[items].to_numpy(dtype=float))
    # A genuine 0-4 coding, and a single mistyped 5, are not called a shifted coding.
    assert plausibility_issues(cohort[items]).empty
    one = cohort[items].head(1).clip(lower=1)
    one.iloc[0, 0] = 5
    assert plausibility_issues(one).empty

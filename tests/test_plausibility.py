"""Values valid one by one but implausible together: wrong units and scales are named."""

from __future__ import annotations

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


def test_declared_unit_converts_and_switches_the_check_off(tmp_path, cohort):
    study = cohort.copy()
    study[KPA] = study[KPA] / 98.0665
    path = tmp_path / "kg.csv"
    study.to_csv(path, index=False)
    mapping = StudyMapping.from_dict({"columns": {c: {"from": c, "unit": "kg/cm2"}
                                                  for c in KPA}})
    frame = read_valid_cohort(path, mapping=mapping)
    np.testing.assert_allclose(frame[KPA].to_numpy(), cohort[KPA].to_numpy(), rtol=1e-12)
    # Declaring kPa says "these really are kPa": no conversion, no unit refusal (values
    # above the contract's 0.5 kPa floor, so only the plausibility check could object).
    low = cohort.copy()
    low[KPA] = low[KPA] / 30
    low_path = tmp_path / "low.csv"
    low.to_csv(low_path, index=False)
    assert validate_file(low_path).n_file_issues > 0
    as_is = StudyMapping.from_dict({"columns": {c: {"from": c, "unit": "kPa"} for c in KPA}})
    assert validate_file(low_path, mapping=as_is).n_file_issues == 0


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

"""Repeated-session cohorts (contract v3): session_id, baseline agreement, design report."""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from eihpredict.cli import app
from eihpredict.schema import BASELINE_COLUMNS, SESSION_COLUMNS
from eihpredict.sessions import check_repeated_ids, describe_design, participant_groups
from eihpredict.validation import (
    CohortValidationError,
    read_valid_cohort,
    validate_file,
    validate_frame,
    validate_records,
)

runner = CliRunner()

CROSSOVER = """participant_id,session_id,sex,age_years,pcs_total,exercise_modality,\
exercise_intensity_pct
a,s1,female,40,12,aerobic,70
a,s2,female,40,12,isometric,30
b,s1,male,30,20,isometric,30
b,s2,male,30,20,aerobic,70
c,s1,male,55,8,aerobic,70
"""


def write(tmp_path, text: str, name: str = "c.csv") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_session_columns_split_the_contract():
    assert {"session_id", "exercise_modality", "eih_ppt_post_kpa"} <= set(SESSION_COLUMNS)
    assert {"age_years", "pcs_01", "cpm_test_before_kpa", "ts_first_nrs",
            "ppt_local_kpa", "site"} <= set(BASELINE_COLUMNS)
    assert not set(SESSION_COLUMNS) & set(BASELINE_COLUMNS)


def test_session_id_lets_participant_id_repeat(tmp_path):
    summary = validate_file(write(tmp_path, CROSSOVER))
    assert summary.ok
    assert summary.design.design == "crossover"
    assert summary.design.sessions_per_participant == {1: 1, 2: 2}
    assert summary.design.n_options == 2


def test_without_session_id_repeated_ids_stay_an_error(tmp_path):
    text = CROSSOVER.replace("session_id,", "").replace(",s1,", ",").replace(",s2,", ",")
    summary = validate_file(write(tmp_path, text))
    assert not summary.ok
    assert "participant_id must be unique; same id as row 1" in summary.shown[0]["rule"]


def test_duplicate_pair_is_an_error_naming_the_first_row(tmp_path):
    text = CROSSOVER.replace("a,s2,", "a,s1,")
    summary = validate_file(write(tmp_path, text))
    assert [(i["row"], i["column"]) for i in summary.shown] == [(2, "participant_id")]
    assert "(participant_id, session_id) must be unique; same pair as row 1" in \
        summary.shown[0]["rule"]


def test_baseline_disagreement_names_both_rows_participant_and_column(tmp_path):
    text = CROSSOVER.replace("b,s2,male,30,20", "b,s2,male,30,21")
    with pytest.raises(CohortValidationError) as info:
        read_valid_cohort(write(tmp_path, text))
    issue = info.value.issues.iloc[0]
    assert (issue["row"], issue["participant_id"], issue["column"]) == (4, "b", "pcs_total")
    assert "row 3 has '20', row 4 has '21'" in issue["rule"]


def test_baseline_disagreement_across_chunks(tmp_path):
    text = CROSSOVER.replace("a,s2,female,40", "a,s2,female,41")
    summary = validate_file(write(tmp_path, text), chunk_size=1)
    assert [(i["row"], i["column"]) for i in summary.shown] == [(2, "age_years")]


def test_missing_against_value_is_a_disagreement(tmp_path):
    text = CROSSOVER.replace("c,s1,male,55,8", "c,s1,male,55,8") + "c,s2,male,,8,isometric,30\n"
    summary = validate_file(write(tmp_path, text))
    assert [(i["row"], i["column"], i["value"]) for i in summary.shown] == [
        (6, "age_years", None)]


def test_session_columns_may_differ(tmp_path):
    frame = validate_frame(pd.read_csv(write(tmp_path, CROSSOVER), dtype=str))
    assert frame.valid.all()


def test_records_follow_the_same_rules():
    records = [{"participant_id": "a", "session_id": "1", "sex": "female", "age_years": 40},
               {"participant_id": "a", "session_id": "2", "sex": "female", "age_years": 41},
               {"participant_id": "a", "session_id": "2", "sex": "female", "age_years": 40}]
    result = validate_records(records)
    assert result.valid.tolist() == [True, False, False]
    rules = {(i["row"], i["column"]): i["rule"] for i in result.issues}
    assert "row 1 has '40', row 2 has '41'" in rules[(2, "age_years")]
    assert "same pair as row 2" in rules[(3, "participant_id")]


def test_validate_cli_reports_the_design(tmp_path):
    result = runner.invoke(app, ["validate", write(tmp_path, CROSSOVER)])
    assert result.exit_code == 0, result.output
    assert ("design: crossover (3 participant(s), 5 row(s); 1 participant(s) with 1 "
            "session(s), 2 participant(s) with 2 session(s); 2 exercise option(s))"
            ) in result.output


def test_designs_parallel_and_single():
    parallel = pd.DataFrame({"participant_id": ["a", "b"], "session_id": ["1", "1"],
                             "exercise_modality": ["aerobic", "isometric"]})
    assert describe_design(parallel).design == "parallel groups"
    single = parallel.assign(exercise_modality="aerobic")
    assert describe_design(single).design == "single session"


def test_repeated_ids_without_session_id_are_refused_naming_the_issue():
    frame = pd.DataFrame({"participant_id": ["a", "a", "b"]})
    with pytest.raises(ValueError, match="issue 23"):
        check_repeated_ids(frame)
    with pytest.raises(ValueError, match="no session_id column"):
        participant_groups(frame)
    grouped = participant_groups(frame.assign(session_id=["1", "2", "1"]))
    assert grouped.tolist() == ["a", "a", "b"]
    assert participant_groups(pd.DataFrame({"participant_id": ["a", "b"]})) is None


def test_simulate_crossover_cli_writes_sessions_and_truth(tmp_path):
    import json

    out, truth = tmp_path / "xo.csv", tmp_path / "xo.json"
    result = runner.invoke(app, ["simulate", "--design", "crossover", "--n", "40", "--seed",
                                 "3", "--out", str(out), "--truth", str(truth)])
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out)
    counts = frame.groupby("participant_id")["session_id"].nunique()
    assert counts.between(2, 4).all() and counts.nunique() > 1
    # different exercises within a participant, in random order
    assert (frame.groupby("participant_id")["exercise_intensity_pct"].nunique()
            + frame.groupby("participant_id")["exercise_modality"].nunique() >= 3).all()
    by_option = json.loads(truth.read_text())["p_impaired_by_option"]
    assert set(by_option) == set(frame["participant_id"]) and all(
        len(v) == 4 and all(0 < p < 1 for p in v.values()) for v in by_option.values())
    assert validate_file(str(out)).design.design == "crossover"


def test_crossover_truth_heterogeneity_and_period_effect():
    import numpy as np

    from eihpredict.simulate import simulate_crossover

    plain = simulate_crossover(200, seed=8, sessions=3, heterogeneity=False)
    orders = {tuple(np.argsort(list(v.values())))
              for v in plain.truth["p_impaired_by_option"].values()}
    assert len(orders) == 1  # without heterogeneity the best option is everyone's
    mixed = simulate_crossover(200, seed=8, sessions=3)
    best = {min(v, key=v.get) for v in mixed.truth["p_impaired_by_option"].values()}
    assert len(best) >= 3  # with it, CPM, TS and catastrophizing change the best option
    later = simulate_crossover(200, seed=8, sessions=3, period_effect_kpa=30.0)
    periods = later.frame["session_id"].str[1:].astype(int).to_numpy()
    assert later.p_impaired[periods == 3].mean() < mixed.p_impaired[periods == 3].mean() - 0.1
    # the empirical rate follows the truth (independent check of the generating model)
    big = simulate_crossover(3000, seed=9, sessions=2)
    event = (big.frame["eih_ppt_post_kpa"] <= big.frame["eih_ppt_pre_kpa"]).mean()
    assert abs(event - big.p_impaired.mean()) < 0.02

"""Missingness made visible: every prediction says how much of it rests on missing inputs,
a model can refuse mostly-empty rows, the card reports missingness by group, and
``train --drop-invalid`` trains on the valid rows and writes the others with reasons."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from eihpredict.cli import app
from eihpredict.config import PipelineConfig
from eihpredict.model_dir import load_model_dir
from eihpredict.modeling import MISSING_DOMINATES, ColumnBatch
from eihpredict.scoring import score_file, score_frame, score_records
from eihpredict.training import train


@pytest.fixture(scope="module")
def loaded(trained):
    return load_model_dir(trained.model_dir)


def _complete_rows(small_cohort, loaded, n=5):
    inputs = [c for c in loaded.model.input_columns if c != "participant_id"]
    complete = small_cohort.frame.dropna(subset=inputs)
    assert len(complete) >= n, "the simulated cohort has complete rows"
    return complete.head(n)


def test_a_near_empty_record_is_flagged_as_resting_on_missing_inputs(loaded, small_cohort):
    model = loaded.model
    near_empty = score_records(model, [{"participant_id": "x", "sex": "female"}]).outputs
    complete = score_frame(model, _complete_rows(small_cohort, loaded)).scored
    # Flagged whatever candidate was chosen: most of the row was never measured. (How
    # much of the prediction the gaps carry depends on the model: a linear model imputes
    # medians, whose contributions are near zero; trees send gaps down learned branches.)
    assert near_empty["missing_input_share"][0] > MISSING_DOMINATES
    assert 0 <= near_empty["missing_explanation_share"][0] <= 1
    assert near_empty["missing_dominated"].tolist() == ["yes"]
    assert (complete["missing_input_share"] == 0).all()
    assert (complete["missing_explanation_share"] == 0).all()
    assert set(complete["missing_dominated"]) == {"no"}


def test_the_share_is_the_two_group_split_of_the_prediction(loaded, small_cohort):
    """The share is ``|phi_M| / (|phi_M| + |phi_O|)``: the two-group Shapley values of the
    missing and the observed features, which add up to the raw score minus its expected
    value (the explanation's base). A linear model's are the sums of its exact
    contributions over each group (linear SHAP), computed here from the explanation."""
    from eihpredict.modeling._protocol import missing_features

    model = loaded.model
    rows = small_cohort.frame.head(60)
    scored = score_frame(model, rows).scored
    batch = model.batch(_typed(rows))
    contributions = model.explanation(batch)
    split = model.missing_split(batch)[:, :, 0]
    raw = model.raw_score(batch)
    np.testing.assert_allclose(split.sum(axis=1), raw - contributions.base, atol=1e-9)
    magnitude = np.abs(split)
    expected = magnitude[:, 0] / magnitude.sum(axis=1)
    expected[scored["missing_input_share"].to_numpy() == 0] = 0.0
    assert (scored["missing_input_share"] > 0).sum() >= 5, "the cohort has rows with gaps"
    np.testing.assert_allclose(scored["missing_explanation_share"], expected, atol=1e-12)
    mostly_missing = scored["missing_input_share"].to_numpy() > MISSING_DOMINATES
    assert (scored["missing_dominated"] == np.where(
        (expected > MISSING_DOMINATES) | mostly_missing, "yes", "no")).all()
    members = getattr(model, "members", [model])
    linear = [m for m in members if m.linear]
    for member in linear:
        c = member.contributions(batch)
        missing = missing_features(c.data, c.names)
        np.testing.assert_allclose(member.missing_split(batch)[:, :, 0],
                                   np.column_stack([(c.values * missing).sum(axis=1),
                                                    (c.values * ~missing).sum(axis=1)]),
                                   atol=1e-12)


def _typed(rows: pd.DataFrame) -> pd.DataFrame:
    from eihpredict.validation import validate_frame

    checked = validate_frame(rows.drop(columns=[c for c in rows if c.startswith("eih_")]))
    return checked.frame.loc[checked.valid]


def test_missing_share_by_hand():
    from eihpredict.modeling import Contributions

    c = Contributions(np.array([[0.5, 1.0, -2.0, 0.5], [1.0, 0.0, 0.0, 3.0]]),
                      np.array([[np.nan, 0.0, 1.0, 7.0], [2.0, 0.0, 0.0, 1.0]]), 0.0,
                      ["a", "b", "b_missing", "c"])
    # row 1: a is NaN (0.5) and b is flagged by its indicator (1.0 + 2.0) of 4.0 in all
    # row 2: nothing missing
    np.testing.assert_allclose(c.missing_share(), [3.5 / 4.0, 0.0])


def test_min_observed_share_rejects_rows_and_says_why(loaded, small_cohort, tmp_path):
    model = loaded.model
    rows = _complete_rows(small_cohort, loaded, 4).drop(
        columns=[c for c in small_cohort.frame if c.startswith("eih_")])
    sparse = pd.DataFrame({"participant_id": ["sparse"], "sex": ["male"]})
    frame = pd.concat([rows, sparse], ignore_index=True)
    result = score_frame(model, frame, min_observed_share=0.5)
    assert len(result.scored) + len(result.rejects) == len(frame)
    assert result.rejects["participant_id"].tolist() == ["sparse"]
    assert result.rejects["row"].tolist() == [len(frame)]
    assert "too few inputs observed" in result.rejects["reasons"][0]
    assert "at least 50 %" in result.rejects["reasons"][0]
    # records: all or nothing, the record named
    record = {k: v for k, v in json.loads(rows.iloc[[0]].to_json(orient="records"))[0].items()
              if v is not None}
    answer = score_records(model, [record, {"participant_id": "sparse", "sex": "male"}],
                           min_observed_share=0.5)
    assert answer.outputs is None
    assert [i["position"] for i in answer.issues] == [1]
    # the file engine and the CLI option
    path = tmp_path / "in.csv"
    frame.to_csv(path, index=False)
    summary = score_file(loaded.path, path, tmp_path / "out.csv", min_observed_share=0.5)
    assert (summary.n_scored, summary.n_rejected) == (len(rows), 1)
    cli = CliRunner().invoke(app, ["score", "--model", str(loaded.path), "--input", str(path),
                                   "--output", str(tmp_path / "cli.csv"),
                                   "--min-observed", "0.5"])
    assert cli.exit_code == 0, cli.output
    assert len(pd.read_csv(tmp_path / "cli.rejects.csv")) == 1
    # the model's own setting (0 unless configured) scores everything
    assert loaded.min_observed_share == 0.0
    assert len(score_frame(model, frame).rejects) == 0


def test_missingness_by_group_is_in_the_metadata_and_card(trained, small_cohort):
    metadata = json.loads((trained.model_dir / "metadata.json").read_text())
    rows = metadata["training_data"]["missingness"]
    by_group = {r["group"]: r for r in rows}
    frame = small_cohort.frame
    for group, row in by_group.items():
        columns = [c for c in metadata["input_columns"]
                   if c in frame and _group(c) == group]
        assert row["columns"] == len(columns)
        assert row["cells_missing"] == pytest.approx(frame[columns].isna().mean().mean(),
                                                     abs=1e-4)
        assert row["rows_all_missing"] == pytest.approx(
            frame[columns].isna().all(axis=1).mean(), abs=1e-4)
    card = (trained.model_dir / "model_card.md").read_text()
    assert "| group | inputs | rows all missing | cells missing |" in card
    assert metadata["missing"] == {"min_observed_share": 0.0}


def _group(column: str) -> str:
    from eihpredict.schema import COLUMN_BY_NAME

    return COLUMN_BY_NAME[column].group


def test_train_drop_invalid_trains_on_the_valid_rows_and_writes_the_others(
        tmp_path, small_cohort, quick_config):
    frame = small_cohort.frame.copy()
    frame["age_years"] = frame["age_years"].astype(object)
    frame.loc[3, "age_years"] = "500"            # invalid value
    frame.loc[10, "eih_ppt_post_kpa"] = np.nan   # no outcome
    frame.loc[20, "sex"] = ""                    # blank required cell
    data = tmp_path / "cohort.csv"
    frame.to_csv(data, index=False)
    config = PipelineConfig.model_validate({
        **quick_config.model_dump(), "name": "drop",
        "models": [m.model_dump() for m in quick_config.models if m.name == "elasticnet"],
        "missing": {"min_observed_share": 0.3}})
    with pytest.raises(ValueError):
        train(config, data, out=tmp_path / "strict", track=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = train(config, data, out=tmp_path / "model", track=False, drop_invalid=True)
    assert not [w for w in caught if "type hint" in str(w.message).lower()], \
        "MLflow's type-hint warning is not printed on every training"
    dropped = pd.read_csv(tmp_path / "model.dropped.csv")
    assert dropped["row"].tolist() == [4, 11, 21]
    assert dropped["participant_id"].tolist() == frame["participant_id"].iloc[[3, 10, 20]].tolist()
    assert "age_years" in dropped["reasons"][0] and "500" in dropped["reasons"][0]
    assert "no EIH outcome" in dropped["reasons"][1]
    assert "sex" in dropped["reasons"][2]
    summary = result.metadata["training_data"]
    assert summary["n_rows"] + len(dropped) == len(frame)
    assert summary["dropped_rows"]["n"] == 3
    assert sum(summary["dropped_rows"]["issues_by_column"].values()) >= 3
    assert frame["participant_id"].iloc[3] not in json.dumps(result.metadata)
    card = (result.model_dir / "model_card.md").read_text()
    assert "3 row(s) were invalid or had no outcome" in card
    assert "less than 30 % of the inputs observed are rejected" in card
    assert load_model_dir(result.model_dir).min_observed_share == 0.3
    assert not list(result.model_dir.glob("*dropped*"))
    with pytest.raises(ValueError, match="overwrite the training data"):
        train(config, data, out=tmp_path / "m2", track=False, drop_invalid=True,
              dropped=data)


def test_contributions_batch_of_one_row_matches_the_batch(loaded, small_cohort):
    """Contributions are computed only for rows with gaps: a row's flag does not depend on
    the other rows of its batch."""
    model = loaded.model
    typed = _typed(small_cohort.frame.head(40))
    together = model.predict(model.batch(typed))
    for i in (0, 7, 21):
        alone = model.predict(ColumnBatch.from_frame(typed.iloc[[i]],
                                                     model.input_columns))
        assert alone["missing_explanation_share"][0] == pytest.approx(
            together["missing_explanation_share"][i], abs=1e-12)


def test_explained_scoring_reuses_its_contributions_for_the_same_share(loaded, small_cohort):
    """With --explain or without it, the share is computed the same way (rows with gaps
    only): the same numbers either way."""
    model = loaded.model
    rows = small_cohort.frame.head(80)
    plain = score_frame(model, rows).scored
    explained = score_frame(model, rows, explain=3).scored
    np.testing.assert_array_equal(plain["missing_explanation_share"],
                                  explained["missing_explanation_share"])
    assert (plain["missing_dominated"] == explained["missing_dominated"]).all()


def test_no_missing_explanation_leaves_the_two_columns_empty_and_the_rest_equal(
        loaded, small_cohort, tmp_path):
    model = loaded.model
    rows = small_cohort.frame.head(50)
    full = score_frame(model, rows).scored
    plain = score_frame(model, rows, missing_explanation=False).scored
    assert list(plain.columns) == list(full.columns)
    assert plain["missing_explanation_share"].isna().all()
    assert plain["missing_dominated"].isna().all()
    same = [c for c in full.columns if c not in ("missing_explanation_share",
                                                 "missing_dominated")]
    pd.testing.assert_frame_equal(plain[same], full[same])
    path = tmp_path / "in.csv"
    rows.to_csv(path, index=False)
    cli = CliRunner().invoke(app, ["score", "--model", str(loaded.path), "--input", str(path),
                                   "--output", str(tmp_path / "o.csv"),
                                   "--no-missing-explanation"])
    assert cli.exit_code == 0, cli.output
    assert pd.read_csv(tmp_path / "o.csv")["missing_dominated"].isna().all()


# -- issue 25: absent instruments are a model question, not the user's chore ----------------

def test_a_study_without_whole_groups_scores_and_is_told_so(trained, loaded, small_cohort,
                                                            tmp_path):
    """A file lacking the model's questionnaire and CPM columns was refused; adding empty
    columns by hand then gave missing_dominated = no for rows mostly never measured."""
    from eihpredict.schema import COLUMN_BY_NAME

    model = loaded.model
    inputs = [c for c in model.input_columns if c != "participant_id"]
    by_group: dict[str, list[str]] = {}
    for c in inputs:
        by_group.setdefault(COLUMN_BY_NAME[c].group, []).append(c)
    # Drop the largest groups until more than half of the inputs are gone.
    dropped_groups, dropped = [], []
    for group, columns in sorted(by_group.items(), key=lambda kv: -len(kv[1])):
        if len(dropped) > len(inputs) / 2:
            break
        dropped_groups.append(group)
        dropped += columns
    frame = small_cohort.frame.drop(columns=[c for c in dropped if c in small_cohort.frame])
    path = tmp_path / "without.csv"
    frame.to_csv(path, index=False)
    summary = score_file(trained.model_dir, path, tmp_path / "o.csv")
    assert summary.n_scored == len(frame)
    assert sorted(summary.absent_groups) == sorted(dropped_groups)
    assert sorted(summary.absent_columns) == sorted(dropped)
    line = summary.absent_line()
    assert f"{len(dropped)} of the model's {len(inputs)} input columns" in line
    scored = pd.read_csv(tmp_path / "o.csv")
    # Independent count: the share of the model's inputs blank or absent in each row.
    present = [c for c in inputs if c in frame]
    share = (frame[present].isna().sum(axis=1).to_numpy() + len(dropped)) / len(inputs)
    np.testing.assert_allclose(scored["missing_input_share"], share, atol=1e-12)
    assert (share > 0.5).all()
    assert (scored["missing_dominated"] == "yes").all()
    # The same file with the columns added empty scores the same numbers.
    padded = frame.assign(**dict.fromkeys(dropped, np.nan))
    padded.to_csv(tmp_path / "padded.csv", index=False)
    score_file(trained.model_dir, tmp_path / "padded.csv", tmp_path / "p.csv")
    again = pd.read_csv(tmp_path / "p.csv")
    np.testing.assert_allclose(again["p_impaired_eih"], scored["p_impaired_eih"], rtol=1e-12)
    result = CliRunner().invoke(app, ["score", "--model", str(trained.model_dir), "--input",
                                      str(path), "--output", str(tmp_path / "c.csv")])
    assert result.exit_code == 0, result.output
    assert f"warning: feature group(s) {', '.join(summary.absent_groups)} absent" in (
        result.stderr)

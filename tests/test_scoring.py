"""Batch scoring: one scoring path, streaming, rejects, atomic output, resume, Dask."""

from __future__ import annotations

import shutil

import mlflow
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from eihpredict.cli import app
from eihpredict.model_dir import ModelDirectoryError, load_model_dir
from eihpredict.scoring import ScoringError, score_file, score_frame


@pytest.fixture(scope="module")
def model_dir(trained):
    return trained.model_dir


@pytest.fixture(scope="module")
def raw(cohort_csv):
    return pd.read_csv(cohort_csv, dtype=str, keep_default_na=False, na_values=[""])


@pytest.fixture
def bad_csv(tmp_path, raw):
    frame = raw.copy()
    frame.loc[4, "pcs_01"] = "9"
    frame.loc[50, "sex"] = "robot"
    frame.loc[120, "participant_id"] = frame.loc[7, "participant_id"]
    frame.loc[200, "ppt_local_kpa"] = "abc"
    frame["clinic_note"] = [f"n{i}" for i in range(len(frame))]
    path = tmp_path / "bad.csv"
    frame.to_csv(path, index=False)
    return path


def test_score_frame_equals_pyfunc_predict(model_dir, cohort_csv):
    rows = pd.read_csv(cohort_csv).head(60)
    loaded = load_model_dir(model_dir)
    ours = score_frame(loaded.model, rows).scored["p_impaired_eih"].to_numpy()
    theirs = mlflow.pyfunc.load_model(str(model_dir)).predict(rows)["p_impaired_eih"]
    np.testing.assert_array_equal(ours, theirs.to_numpy())


def test_score_file_keeps_every_row_and_reports_rejects(model_dir, bad_csv, tmp_path, raw):
    out, rej = tmp_path / "scores.csv", tmp_path / "rejects.csv"
    summary = score_file(model_dir, bad_csv, out, rejects=rej, chunk_size=37)
    scores, rejects = pd.read_csv(out), pd.read_csv(rej)
    assert summary.n_scored + summary.n_rejected == summary.n_rows == len(raw)
    assert len(scores) == len(raw) - 4 and len(rejects) == 4
    assert rejects["row"].tolist() == [5, 51, 121, 201]
    assert "pcs_01" in rejects.loc[0, "reasons"] and "sex" in rejects.loc[1, "reasons"]
    assert "same id as row 8" in rejects.loc[2, "reasons"]
    expected_ids = [pid for i, pid in enumerate(raw["participant_id"]) if i not in
                    (4, 50, 120, 200)]
    assert scores["participant_id"].tolist() == expected_ids  # input order, none lost
    assert scores["clinic_note"].iloc[0] == "n0"  # pass-through column kept
    assert set(scores["eih_prediction"]) <= {"impaired", "responder"}


def test_chunked_scores_equal_one_pass(model_dir, bad_csv, tmp_path):
    score_file(model_dir, bad_csv, tmp_path / "a.csv", chunk_size=10_000)
    score_file(model_dir, bad_csv, tmp_path / "b.csv", chunk_size=13)
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()


def test_on_error_fail_stops_and_leaves_no_output(model_dir, bad_csv, tmp_path):
    out = tmp_path / "scores.csv"
    with pytest.raises(ScoringError, match="row 5 .*pcs_01"):
        score_file(model_dir, bad_csv, out, on_error="fail", chunk_size=50)
    assert list(tmp_path.iterdir()) == [bad_csv]


def test_parquet_rejects_file(model_dir, bad_csv, tmp_path):
    summary = score_file(model_dir, bad_csv, tmp_path / "s.csv",
                         rejects=tmp_path / "r.parquet", chunk_size=100)
    rejects = pd.read_parquet(tmp_path / "r.parquet")
    assert len(rejects) == summary.n_rejected == 4
    assert rejects["row"].tolist() == [5, 51, 121, 201]


def test_explanations_per_row_add_up_to_the_raw_score(model_dir, cohort_csv, tmp_path):
    out = tmp_path / "s.parquet"
    score_file(model_dir, cohort_csv, out, explain=3)
    scores = pd.read_parquet(out)
    assert {"feature_1", "value_1", "contribution_1", "contribution_3"} <= set(scores.columns)
    assert (scores["contribution_1"].abs() >= scores["contribution_2"].abs()).all()


def test_interrupted_run_resumes_to_identical_bytes(model_dir, bad_csv, tmp_path):
    whole = tmp_path / "whole.csv"
    score_file(model_dir, bad_csv, whole, chunk_size=40, explain=2)
    out = tmp_path / "resumed.csv"
    calls = {"n": 0}

    def crash(rows, total):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        score_file(model_dir, bad_csv, out, chunk_size=40, explain=2, on_progress=crash)
    assert not out.exists()  # no half file under the final name
    summary = score_file(model_dir, bad_csv, out, chunk_size=40, explain=2, resume=True)
    assert summary.resumed_chunks == 3
    assert out.read_bytes() == whole.read_bytes()
    rejects = tmp_path / "resumed.rejects.csv"
    assert rejects.read_bytes() == (tmp_path / "whole.rejects.csv").read_bytes()


def test_resume_refuses_changed_settings(model_dir, bad_csv, tmp_path):
    out = tmp_path / "o.csv"

    def crash(rows, total):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        score_file(model_dir, bad_csv, out, chunk_size=40, on_progress=crash)
    with pytest.raises(ScoringError, match="chunk_size changed"):
        score_file(model_dir, bad_csv, out, chunk_size=41, resume=True)
    with pytest.raises(ScoringError, match="nothing to resume"):
        score_file(model_dir, bad_csv, tmp_path / "other.csv", resume=True)


def test_clear_errors_before_any_work(model_dir, cohort_csv, tmp_path, raw):
    with pytest.raises(ModelDirectoryError, match="no such model directory"):
        score_file(tmp_path / "nope", cohort_csv, tmp_path / "o.csv")
    with pytest.raises(ScoringError, match="must end in .csv or .parquet"):
        score_file(model_dir, cohort_csv, tmp_path / "o.xlsx")
    lacking = tmp_path / "lacking.csv"
    raw.drop(columns=["sex"]).to_csv(lacking, index=False)
    with pytest.raises(Exception, match="missing required column.*sex"):
        score_file(model_dir, lacking, tmp_path / "o.csv")
    altered = tmp_path / "model"
    shutil.copytree(model_dir, altered)
    (altered / "MLmodel").write_text("tampered")
    with pytest.raises(ModelDirectoryError, match="'MLmodel' was altered"):
        score_file(altered, cohort_csv, tmp_path / "o.csv")
    assert not (tmp_path / "o.csv").exists()


def test_score_cli_exit_codes_and_messages(model_dir, bad_csv, tmp_path):
    runner = CliRunner()
    ok = runner.invoke(app, ["score", "--model", str(model_dir), "--input", str(bad_csv),
                             "--output", str(tmp_path / "s.csv")])
    assert ok.exit_code == 0, ok.output
    assert "rejected 4 row(s)" in ok.stderr and (tmp_path / "s.rejects.csv").exists()
    failed = runner.invoke(app, ["score", "--model", str(model_dir), "--input", str(bad_csv),
                                 "--output", str(tmp_path / "t.csv"), "--on-error", "fail"])
    assert failed.exit_code == 1 and "pcs_01" in failed.stderr
    usage = runner.invoke(app, ["score", "--model", str(model_dir), "--input", str(bad_csv),
                                "--output", str(tmp_path / "u.csv"), "--on-error", "maybe"])
    assert usage.exit_code == 2


def test_dask_engine_on_a_real_local_cluster_matches_local(model_dir, bad_csv, tmp_path, raw):
    parts = tmp_path / "parts"
    parts.mkdir()
    frame = pd.read_csv(bad_csv, dtype=str, keep_default_na=False, na_values=[""])
    frame.iloc[:150].to_csv(parts / "part-0.csv", index=False)
    frame.iloc[150:].to_parquet(parts / "part-1.parquet", index=False)
    local = score_file(model_dir, parts, tmp_path / "local.csv", chunk_size=60)
    dask = score_file(model_dir, parts, tmp_path / "dask.csv", chunk_size=60, engine="dask")
    assert (local.n_scored, local.n_rejected) == (dask.n_scored, dask.n_rejected)
    assert (tmp_path / "local.csv").read_bytes() == (tmp_path / "dask.csv").read_bytes()
    assert (tmp_path / "local.rejects.csv").read_bytes() == \
        (tmp_path / "dask.rejects.csv").read_bytes()


def test_each_prediction_says_how_much_of_its_input_was_missing(model_dir, raw):
    from eihpredict.scoring import score_records

    model = load_model_dir(model_dir).model
    inputs = [c for c in model.input_columns if c != "participant_id"]
    near_empty = score_records(model, [{"participant_id": "x", "sex": "female"}])
    observed = 1 if "sex" in inputs else 0
    assert near_empty.outputs["missing_input_share"].tolist() == [
        (len(inputs) - observed) / len(inputs)]
    rows = raw.head(30)
    scored = score_frame(model, rows).scored
    typed = rows[inputs].replace("", None)
    expected = typed.isna().mean(axis=1).to_numpy()
    np.testing.assert_allclose(scored["missing_input_share"], expected)


def test_rejects_may_not_name_the_input_or_the_output(model_dir, bad_csv, tmp_path):
    from eihpredict.scoring import ScoringError

    before = bad_csv.read_bytes()
    with pytest.raises(ScoringError, match="overwrite the input"):
        score_file(model_dir, bad_csv, tmp_path / "s.csv", rejects=bad_csv)
    link = tmp_path / "alias.csv"
    link.symlink_to(bad_csv)
    with pytest.raises(ScoringError, match="overwrite the input"):
        score_file(model_dir, bad_csv, tmp_path / "s.csv", rejects=link)
    with pytest.raises(ScoringError, match="same file"):
        score_file(model_dir, bad_csv, tmp_path / "s.csv", rejects=tmp_path / "s.csv")
    assert bad_csv.read_bytes() == before  # nothing was touched


def test_a_second_run_on_the_same_output_stops_at_once(model_dir, bad_csv, tmp_path):
    from eihpredict.scoring import ScoringError, _lock, _unlock

    held = _lock(tmp_path / "s.csv")
    try:
        with pytest.raises(ScoringError, match="another run is writing"):
            score_file(model_dir, bad_csv, tmp_path / "s.csv")
    finally:
        _unlock(held)
    score_file(model_dir, bad_csv, tmp_path / "s.csv")  # free again


def test_csv_outputs_neutralise_formulas_and_follow_the_umask(model_dir, raw, tmp_path):
    import os
    import stat

    frame = raw.head(20).copy()
    frame["note"] = ["=HYPERLINK(\"http://x\")"] * 10 + ["-2+3", "@a", "plain"] + ["ok"] * 7
    frame.loc[3, "sex"] = "=cmd"  # a reject whose raw value is a formula
    path = tmp_path / "in.csv"
    frame.to_csv(path, index=False)
    score_file(model_dir, path, tmp_path / "s.csv", rejects=tmp_path / "r.csv")
    scores = pd.read_csv(tmp_path / "s.csv")
    assert scores["note"].iloc[0].startswith("'=") and scores["note"].iloc[10] == "'@a"
    assert (scores["note"] == "plain").sum() == 1
    assert pd.read_csv(tmp_path / "r.csv")["sex"].iloc[0] == "'=cmd"
    assert (scores["p_impaired_eih"] >= 0).all()  # numbers untouched
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(os.stat(tmp_path / "s.csv").st_mode) == 0o666 & ~umask
    score_file(model_dir, path, tmp_path / "raw.csv", raw_text=True)
    assert pd.read_csv(tmp_path / "raw.csv")["note"].iloc[0].startswith("=")


def test_input_columns_named_like_outputs_never_replace_them(model_dir, raw):
    model = load_model_dir(model_dir).model
    frame = raw.head(10).assign(p_impaired_eih=9.9, eih_prediction="old", feature_1="x",
                                row=1, reasons="r")
    result = score_frame(model, frame, explain=1)
    fresh = score_frame(model, raw.head(10), explain=1).scored
    np.testing.assert_array_equal(result.scored["p_impaired_eih"], fresh["p_impaired_eih"])
    assert result.scored["input_p_impaired_eih"].eq(9.9).all()
    assert result.scored["feature_1"].tolist() == fresh["feature_1"].tolist()
    assert result.scored["input_feature_1"].eq("x").all()
    assert not result.scored.columns.duplicated().any()


def test_score_refuses_pressures_in_another_unit_naming_it(model_dir, raw, tmp_path):
    """Issue 25: PPTs in newtons (values 10-40) were scored as kPa."""
    study = raw.copy()
    for column in ("ppt_local_kpa", "ppt_remote_kpa"):
        study[column] = pd.to_numeric(study[column]) / 10  # newtons on a 1 cm2 probe
    path = tmp_path / "newtons.csv"
    study.to_csv(path, index=False)
    with pytest.raises(ScoringError, match=r"nothing written; ppt_local_kpa: .*look like "
                                           r"N/cm2 \(newtons on a 1 cm2 probe.*1 more column"):
        score_file(model_dir, path, tmp_path / "o.csv", chunk_size=50)
    assert not (tmp_path / "o.csv").exists()
    assert not list(tmp_path.glob(".o.csv*"))  # no work folder left behind

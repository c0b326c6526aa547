"""No command may overwrite or remove its own inputs, or write into a model directory:
each case is refused before any work, with exit code 1 or 2 and a message naming the
paths, and the input is left byte for byte as it was (eihpredict/fileio.check_outputs,
eihpredict/model_dir.check_model_destination, the CLI's checks)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from eihpredict.cli import app
from eihpredict.config import ConfigError, load_config
from eihpredict.fileio import OutputPathError, check_outputs
from eihpredict.model_dir import check_model_destination

QUICK = Path(__file__).resolve().parents[1] / "pipelines" / "quick.yaml"
runner = CliRunner()


@pytest.fixture
def work(tmp_path, cohort_csv):
    shutil.copy(cohort_csv, tmp_path / "co.csv")
    shutil.copy(QUICK, tmp_path / "q.yaml")
    return tmp_path


def _refused(args, protected: list[Path], message: str):
    before = {p: p.read_bytes() for p in protected}
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code in (1, 2), result.output
    assert message in result.output, result.output
    assert {p: p.read_bytes() for p in protected} == before


def test_train_refuses_an_output_that_is_its_data_or_its_config(work):
    co, q = work / "co.csv", work / "q.yaml"
    for out in (co, q):
        _refused(["train", q, "--data", co, "--out", out, "--no-tracking"], [co, q],
                 "would replace an existing file")


def test_train_refuses_a_directory_that_is_not_a_model_or_holds_its_data(work):
    keep = work / "full" / "important.txt"
    keep.parent.mkdir()
    keep.write_text("keep")
    _refused(["train", work / "q.yaml", "--data", work / "co.csv", "--out", keep.parent,
              "--no-tracking"], [keep], "is not a model directory")
    (work / "empty").mkdir()
    old = work / "old_model"  # an earlier model directory with the data put inside it
    old.mkdir()
    for name in ("MLmodel", "metadata.json"):
        (old / name).write_text("{}")
    shutil.copy(work / "co.csv", old / "co.csv")
    with pytest.raises(OutputPathError, match="holds the training data"):
        check_model_destination(old, {"the training data": old / "co.csv"})
    check_model_destination(old, {"the training data": work / "co.csv"})  # may be replaced
    check_model_destination(work / "empty")  # an empty directory may be filled


def test_a_config_name_cannot_lead_outside_models(work):
    for name in ("../../victim", "/tmp/abs", "..", "a\\b"):
        text = QUICK.read_text().replace("name: quick", f"name: '{name}'")
        (work / "e.yaml").write_text(text)
        with pytest.raises(ConfigError, match="plain name"):
            load_config(work / "e.yaml")


def test_unreadable_configs_are_named_not_raised(work):
    (work / "bin.yaml").write_bytes(b"\xff\xfe")
    with pytest.raises(ConfigError, match="not a UTF-8 text file"):
        load_config(work / "bin.yaml")
    with pytest.raises(ConfigError, match="is a directory"):
        load_config(work)
    (work / "dup.yaml").write_text(QUICK.read_text() + "\nseed: 3\nseed: 4\n")
    with pytest.raises(ConfigError, match="given twice"):
        load_config(work / "dup.yaml")


def test_validate_report_map_and_simulate_never_write_over_an_input(work):
    co = work / "co.csv"
    _refused(["validate", co, "--report", co], [co], "--report would overwrite the cohort")
    _refused(["map", co, "--init", "--out", co, "--force"], [co], "--out would overwrite")
    _refused(["simulate", "--n", "5", "--out", work / "s.csv", "--truth", work / "s.csv"],
             [], "name the same file")
    assert not (work / "s.csv").exists()


def test_reports_and_scores_stay_out_of_inputs_and_the_model(work, trained):
    reports = work / "rep"
    reports.mkdir()
    for command, name in (("evaluate", "metrics.csv"), ("explain", "biomarkers.csv")):
        data = reports / name
        shutil.copy(work / "co.csv", data)
        extra = ["--no-tracking"] if command == "evaluate" else []
        _refused([command, "--model", trained.model_dir, "--data", data, "--out", reports,
                  *extra], [data], "would overwrite the data")
    model = Path(trained.model_dir)
    _refused(["score", "--model", model, "--input", work / "co.csv", "--output",
              model / "scores.csv"], [work / "co.csv"], "inside the model directory")
    assert not (model / "scores.csv").exists()
    _refused(["update", "--model", model, "--data", work / "co.csv", "--method",
              "intercept", "--out", work / "co.csv"], [work / "co.csv"],
             "would replace an existing file")
    _refused(["update", "--model", model, "--data", work / "co.csv", "--method",
              "intercept", "--out", model / "child"], [], "inside the model directory")


def test_check_outputs_compares_files_not_spellings(tmp_path):
    (tmp_path / "a.csv").write_text("x")
    (tmp_path / "link.csv").symlink_to(tmp_path / "a.csv")
    with pytest.raises(OutputPathError, match="would overwrite the cohort"):
        check_outputs({"--report": tmp_path / "link.csv"}, {"the cohort": tmp_path / "a.csv"})
    check_outputs({"--report": tmp_path / "b.csv"}, {"the cohort": tmp_path / "a.csv",
                                                     "unused": None})

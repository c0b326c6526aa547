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


# --- issue 27: a refused --resume keeps the progress; failures leave nothing behind ------

def _snapshot(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


@pytest.fixture
def big_csv(tmp_path, cohort_csv):
    """1,500 rows (the cohort 5 times over, ids made unique): long enough to be killed."""
    import pandas as pd

    frame = pd.read_csv(cohort_csv, dtype=str, keep_default_na=False)
    parts = [frame.assign(participant_id=frame["participant_id"] + f"-{i}") for i in range(5)]
    path = tmp_path / "big.csv"
    pd.concat(parts, ignore_index=True).to_csv(path, index=False)
    return path


def test_a_refused_resume_after_sigkill_keeps_the_work_folder(trained, big_csv, tmp_path):
    import json
    import signal
    import subprocess
    import sys
    import time

    from eihpredict.scoring import score_file

    out = tmp_path / "o.csv"
    work = tmp_path / ".o.csv.work"
    proc = subprocess.Popen([sys.executable, "-m", "eihpredict.cli", "score", "--model",
                             str(trained.model_dir), "--input", str(big_csv), "--output",
                             str(out), "--chunk-size", "100"], cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if json.loads((work / "state.json").read_text())["chunks_done"] >= 2:
                    break
            except (OSError, ValueError):
                pass
            time.sleep(0.005)
        assert proc.poll() is None, "the run finished before it could be killed"
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    assert not out.exists()
    kept = _snapshot(work)
    done = json.loads(kept["state.json"])["chunks_done"]
    assert done >= 2
    base = ["score", "--model", trained.model_dir, "--input", big_csv, "--output", out,
            "--resume"]
    for wrong, said in ((["--chunk-size", "50"], "chunk_size changed (100 then, 50 now)"),
                        (["--chunk-size", "100", "--explain", "3"], "explain changed")):
        result = runner.invoke(app, [str(a) for a in base + wrong])
        assert result.exit_code == 1, result.output
        assert work.exists() and _snapshot(work) == kept  # not one byte of progress lost
        assert said in result.output and "--resume --chunk-size 100 --on-error skip" in \
            result.output, result.output
        assert not (tmp_path / ".o.csv.lock").exists()
    result = runner.invoke(app, [str(a) for a in base + ["--chunk-size", "100"]])
    assert result.exit_code == 0, result.output
    assert f"resumed after {done} chunk(s)" in result.output
    score_file(trained.model_dir, big_csv, tmp_path / "whole.csv", chunk_size=100)
    assert out.read_bytes() == (tmp_path / "whole.csv").read_bytes()
    assert not work.exists()


def test_a_nul_byte_input_leaves_no_lock_and_no_work_folder(trained, tmp_path):
    bad = tmp_path / "nul.csv"
    bad.write_bytes(b"participant_id,sex\na\0b,female\n")
    result = runner.invoke(app, ["score", "--model", str(trained.model_dir), "--input",
                                 str(bad), "--output", str(tmp_path / "o.csv")])
    assert result.exit_code == 1 and "NUL bytes" in result.output, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nul.csv"]


def test_an_output_below_a_file_is_named_not_errno(trained, work):
    (work / "existing_file").write_text("keep")
    result = runner.invoke(app, ["score", "--model", str(trained.model_dir), "--input",
                                 str(work / "co.csv"), "--output",
                                 str(work / "existing_file" / "o.csv")])
    assert result.exit_code == 1, result.output
    assert "existing_file is a file, not a folder" in result.output
    assert "Errno" not in result.output
    assert (work / "existing_file").read_text() == "keep"


def test_a_run_stopped_before_any_chunk_claims_nothing_kept(trained, work, caplog):
    from eihpredict.scoring import score_file

    def stop(rows, total):
        raise KeyboardInterrupt

    out = work / "o.csv"
    with pytest.raises(KeyboardInterrupt) as info:  # stopped at the first progress call:
        score_file(trained.model_dir, work / "co.csv", out, chunk_size=100_000,
                   on_progress=stop)  # its only chunk is finished, so it is kept
    assert "finished chunks are kept" in "".join(info.value.__notes__)

    caplog.clear()
    lines = (work / "co.csv").read_text().splitlines(keepends=True)
    lines[3] = lines[3].rstrip("\n") + ",x,y\n"  # line 4 has two fields too many
    (work / "ragged.csv").write_text("".join(lines))
    result = runner.invoke(app, ["score", "--model", str(trained.model_dir), "--input",
                                 str(work / "ragged.csv"), "--output", str(work / "p.csv"),
                                 "--chunk-size", "100"])
    assert result.exit_code == 1 and "line 4" in result.output, result.output
    assert "finished chunks are kept" not in caplog.text
    assert not (work / ".p.csv.work").exists() and not (work / ".p.csv.lock").exists()


# --- issue 27: configs are bounded and named where they are wrong -------------------------

def _bomb(levels: int = 6) -> str:
    """Nested aliases: 9 ** levels values once expanded (9 ** 9 in the issue's case)."""
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]"
              for i in range(1, levels)]
    return "\n".join(lines)


def test_yaml_aliases_are_refused_in_every_config_section_and_in_mappings(work):
    from eihpredict.mapping import MappingError, StudyMapping

    quick = QUICK.read_text()
    bomb = _bomb().replace("\n", "\n      ")
    cases = {  # params of a model, the top level, a nested section
        "params": quick.replace("params: {n_estimators: 60}",
                                "params:\n      " + bomb + "\n      n_estimators: 60"),
        "top": quick + "\nextra_anchor: &t 1\ndescription: *t\n",
        "nested": quick + "\ntuning: {n_trials: &n 2, inner_folds: *n}\n",
    }
    for name, text in cases.items():
        (work / f"{name}.yaml").write_text(text)
        with pytest.raises(ConfigError, match=rf"{name}\.yaml: not valid YAML at line \d+.*"
                                              r"alias \*\w+ is not allowed"):
            load_config(work / f"{name}.yaml")
    (work / "map.yaml").write_text("columns:\n  pid: &p {to: participant_id}\n"
                                   "  id2: *p\n")
    with pytest.raises(MappingError, match=r"alias \*p is not allowed"):
        StudyMapping.load(work / "map.yaml")


def test_model_params_are_type_checked_at_load_with_file_and_key(work):
    quick = QUICK.read_text()
    cases = {
        "params: {n_estimators: lots}": "models[0].params.n_estimators: expected an integer, "
                                        "got 'lots'",
        "params: {n_estimators: 0}": "models[0].params.n_estimators: expected an integer "
                                     "from 1 to 100000, got 0",
        "params: {n_estimators: 60, learning_rate: [1, [2]]}":
            "models[0].params.learning_rate: expected a number, got [1, [2]]",
        "params: {n_estimators: 60, colour: {a: 1}}":
            "models[0].params.colour: expected a number, text, true/false or a flat list",
    }
    for replacement, message in cases.items():
        (work / "p.yaml").write_text(quick.replace("params: {n_estimators: 60}", replacement))
        with pytest.raises(ConfigError) as err:
            load_config(work / "p.yaml")
        assert str(err.value).startswith(f"{work / 'p.yaml'}: "), str(err.value)
        assert message in str(err.value), str(err.value)
    (work / "r.yaml").write_text(quick.replace("num_leaves: {type: int, low: 2, high: 8}",
                                               "num_leaves: {type: int, low: 8, high: 2}"))
    with pytest.raises(ConfigError, match=r"r\.yaml: models\[0\]\.search_space\.num_leaves: "
                                          r"low \(8\) is above high \(2\)"):
        load_config(work / "r.yaml")

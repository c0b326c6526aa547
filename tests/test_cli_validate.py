"""`eihpredict validate` on malformed files: exit 1, the problem named, no traceback."""

from __future__ import annotations

import gzip
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from eihpredict.cli import app

runner = CliRunner()
HEADER = "participant_id,sex,pcs_01,pcs_total,ppt_local_kpa,population"


def run(*args: str):
    return runner.invoke(app, list(args))


def write(tmp_path, name: str, content: bytes | str):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return str(path)


MALFORMED = {
    "empty": ("a.csv", b"", "the file is empty"),
    "header only": ("a.csv", HEADER + "\n", "header only, no data rows"),
    "missing required column": ("a.csv", "participant_id,pcs_01\np1,2\n",
                                "missing required column(s): sex"),
    "wrong case of a required column": ("a.csv", "participant_id,Sex\np1,male\n",
                                        "'Sex' -> 'sex'"),
    "duplicated column": ("a.csv", "participant_id,sex,sex\np1,male,male\n",
                          "duplicated column name(s): sex"),
    "duplicate id": ("a.csv", f"{HEADER}\np1,male,1,,,\np1,female,1,,,\n",
                     "same id as row 1"),
    "text in numeric": ("a.csv", f"{HEADER}\np1,male,1,,abc,\n", "ppt_local_kpa"),
    "out of range": ("a.csv", f"{HEADER}\np1,male,7,,,\n", "pcs_01"),
    "nan literal": ("a.csv", f"{HEADER}\np1,male,,,NaN,\n", "NaN is not allowed"),
    "inf": ("a.csv", f"{HEADER}\np1,male,,,inf,\n", "infinite"),
    "unknown category": ("a.csv", f"{HEADER}\np1,male,,,,martian\n", "population"),
    "fractional item": ("a.csv", f"{HEADER}\np1,male,1.5,,,\n", "got a fraction"),
    "total disagrees": ("a.csv", "participant_id,sex," + ",".join(
        f"pcs_{i:02d}" for i in range(1, 14)) + ",pcs_total\np1,male," + ",".join(
        ["1"] * 13) + ",20\n", "pcs_total"),
    "short line": ("a.csv", f"{HEADER}\np1,male,1,,,\np2,male,1\np3,male,1,,,\n",
                   "line 3: expected 6 comma-separated fields, saw 3 (a truncated"),
    "short line, gzip": ("a.csv.gz",
                         gzip.compress(f"{HEADER}\np1,male,1,,,\np2,male\n".encode()),
                         "line 3: expected 6 comma-separated fields, saw 2"),
    "ragged line": ("a.csv", f"{HEADER}\np1,male,1,,,\np2,male,1,,,,,,9\n",
                    "line 3: expected 6 comma-separated fields, saw 9"),
    "latin-1": ("a.csv", f"{HEADER}\np1,male,1,,,\n".encode() + "p\xe9,male,,,,\n".encode(
        "latin-1"), "not UTF-8"),
    "binary garbage": ("a.csv", bytes(range(256)) * 4, "binary data"),
    "garbage parquet": ("a.parquet", b"PAR1 not really", "not a readable Parquet file"),
    "unknown extension": ("a.docx", b"x", "unknown file type"),
    "old excel": ("a.xls", b"x", "save the sheet as .xlsx"),
    "garbage xlsx": ("a.xlsx", b"x", "not a readable Excel .xlsx workbook"),
    "garbage sav": ("a.sav", b"x", "not a readable SPSS .sav file"),
}


@pytest.mark.parametrize("case", list(MALFORMED), ids=list(MALFORMED))
def test_validate_malformed_file_exits_1_with_one_clear_line(tmp_path, case):
    name, content, expected = MALFORMED[case]
    result = run("validate", write(tmp_path, name, content))
    assert result.exit_code == 1, result.output
    assert expected in result.stderr
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_validate_valid_file_exits_0(cohort_csv):
    result = run("validate", cohort_csv)
    assert result.exit_code == 0, result.stderr
    assert "valid:" in result.stdout and "300 rows" in result.stdout


def test_validate_caps_lines_on_screen_and_reports_all(tmp_path):
    rows = "\n".join(f"p{i},male,9,,," for i in range(50))
    path = write(tmp_path, "a.csv", f"{HEADER}\n{rows}\n")
    report = tmp_path / "errors.csv"
    result = run("validate", path, "--report", str(report), "--show", "5")
    assert result.exit_code == 1
    assert result.stderr.count("breaks rule") == 5
    assert "45 more problem(s)" in result.stderr
    full = pd.read_csv(report)
    assert list(full.columns) == ["row", "participant_id", "column", "value", "rule"]
    assert len(full) == 50 and full["row"].tolist() == list(range(1, 51))


def test_validate_report_is_not_left_half_written_on_a_file_error(tmp_path):
    path = write(tmp_path, "a.csv", f"{HEADER}\np1,male,1,,,\np2,male,1,,,,,,9\n")
    report = tmp_path / "errors.csv"
    result = run("validate", path, "--report", str(report), "--chunk-size", "1")
    assert result.exit_code == 1
    assert not report.exists()
    assert list(tmp_path.glob(".errors.csv.*")) == []


def test_validate_as_a_real_process_prints_no_traceback(tmp_path):
    path = write(tmp_path, "a.csv", bytes(range(256)))
    proc = subprocess.run([sys.executable, "-m", "eihpredict.cli", "validate", path],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert proc.stderr.strip().startswith("error:") and "Traceback" not in proc.stderr


def test_usage_error_exits_2(tmp_path):
    assert run("validate").exit_code == 2
    assert run("simulate", "--n", "5", "--out", str(tmp_path / "x.csv"),
               "--scenario", "nope").exit_code == 2


def _rows_file(tmp_path, replace: dict[int, str]) -> str:
    rows = ["participant_id,sex,pcs_01,ppt_local_kpa"] + [f"p{i},male,1,300" for i in range(100)]
    for index, text in replace.items():
        rows[index] = text
    return write(tmp_path, "a.csv", "\n".join(rows) + "\n")


def test_short_line_deep_in_a_chunked_file_is_named(tmp_path):
    """Issue 25: a short line (a truncated export) was read as missing cells and passed."""
    path = _rows_file(tmp_path, {61: "p60,male"})
    for chunk in ("25", "1000"):
        result = run("validate", path, "--chunk-size", chunk)
        assert result.exit_code == 1
        assert "line 62: expected 4 comma-separated fields, saw 2" in result.stderr


def test_long_line_deep_in_a_chunked_file_is_named(tmp_path):
    path = _rows_file(tmp_path, {81: "p80,male,1,300,9,9"})
    for chunk in ("25", "1000"):
        result = run("validate", path, "--chunk-size", chunk)
        assert result.exit_code == 1
        assert "line 82: expected 4 comma-separated fields, saw 6" in result.stderr


def test_version_option_and_enum_choices():
    from typer.testing import CliRunner

    from eihpredict import __version__
    from eihpredict.cli import app

    runner = CliRunner()
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and __version__ in result.stdout
    bad = runner.invoke(app, ["score", "--model", "m", "--input", "i.csv", "--output",
                              "o.csv", "--engine", "spark"])
    assert bad.exit_code == 2 and "spark" in bad.output


# -- issue 15: versions, formats, mappings, units, and everything training needs ----------

ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]
QUICK = str(ROOT / "pipelines" / "quick.yaml")


def test_version_option_prints_package_and_contract_version():
    from eihpredict import __version__

    result = run("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"eihpredict {__version__} (cohort contract 3)"


def test_validate_lists_unknown_columns_but_still_says_valid(tmp_path, small_cohort):
    frame = small_cohort.frame.head(30).assign(visit_notes="ok", Weight_kg=70.0)
    path = tmp_path / "c.csv"
    frame.to_csv(path, index=False)
    result = run("validate", str(path))
    assert result.exit_code == 0, result.stderr
    assert "valid:" in result.stdout
    assert "warning: 2 unknown column(s), kept but never used as features: visit_notes, " \
           "Weight_kg" in result.stderr


def test_validate_for_a_config_reports_every_problem_in_one_run(tmp_path, small_cohort):
    """Issue 15: valid, then one refusal per training run (blank sex, no outcome, a group)."""
    frame = small_cohort.frame.head(40).drop(
        columns=["eih_ppt_pre_kpa", "eih_ppt_post_kpa", "ts_first_nrs", "ts_last_nrs",
                 "ts_single_nrs", "ts_series_nrs"]).assign(notes="x")
    frame.loc[[3, 17], "sex"] = None
    path = tmp_path / "c.csv"
    frame.to_csv(path, index=False)
    result = run("validate", str(path), "--for", QUICK)
    assert result.exit_code == 1
    err = result.stderr
    assert "warning: 1 unknown column(s), kept but never used as features: notes" in err
    assert "row 4 (participant" in err and "row 18 (participant" in err and "required" in err
    assert "pipeline 'quick': Feature group 'ts' needs the columns (ts_first_nrs, " \
           "ts_last_nrs) or (ts_single_nrs, ts_series_nrs)" in err
    assert "pipeline 'quick': no EIH outcome: the label rule 'no_rise' needs " \
           "eih_ppt_pre_kpa and eih_ppt_post_kpa, or eih_impaired; the file lacks " \
           "eih_ppt_pre_kpa, eih_ppt_post_kpa and eih_impaired" in err
    assert "not ready:" in err and "4 problem(s) would stop training pipeline 'quick'" in err


def test_validate_for_names_rows_without_an_outcome(tmp_path, small_cohort):
    frame = small_cohort.frame.head(40).copy()
    frame.loc[[5, 9], "eih_ppt_post_kpa"] = None
    frame.loc[12, "eih_ppt_pre_kpa"] = None
    path = tmp_path / "c.csv"
    frame.to_csv(path, index=False)
    report = tmp_path / "r.csv"
    result = run("validate", str(path), "--for", QUICK, "--report", str(report))
    assert result.exit_code == 1
    rows = pd.read_csv(report)
    assert rows[["row", "column"]].values.tolist() == [
        [6, "eih_ppt_post_kpa"], [10, "eih_ppt_post_kpa"], [13, "eih_ppt_pre_kpa"]]
    assert rows["rule"].str.startswith("an outcome is needed to train pipeline 'quick'").all()
    # Without --for the same file is contract-valid: the outcome is optional for scoring.
    assert run("validate", str(path)).exit_code == 0


def test_validate_for_a_ready_file_exits_0(cohort_csv):
    result = run("validate", cohort_csv, "--for", QUICK)
    assert result.exit_code == 0, result.stderr
    assert "ready to train pipeline 'quick'" in result.stdout


def test_validate_refuses_ppts_in_kg_per_cm2_naming_the_unit(tmp_path, small_cohort):
    frame = small_cohort.frame.head(50).copy()
    kpa = [c for c in frame.columns if c.endswith("_kpa")]
    frame[kpa] = frame[kpa] / 98.0665
    path = tmp_path / "kg.csv"
    frame.to_csv(path, index=False)
    result = run("validate", str(path))
    assert result.exit_code == 1
    assert "file, column ppt_local_kpa" in result.stderr
    assert "look like kg/cm2" in result.stderr
    assert f"{len(kpa)} about the whole file" in result.stderr


@pytest.mark.parametrize("fmt", ["xlsx", "sav", "semicolon", "semicolon_sniffed"])
def test_validate_reads_excel_spss_and_european_csv(tmp_path, small_cohort, fmt):
    frame = small_cohort.frame.head(25)
    if fmt == "xlsx":
        import openpyxl

        workbook = openpyxl.Workbook()
        workbook.active.title = "readme"
        sheet = workbook.create_sheet("data")
        sheet.append(list(frame.columns))
        for row in frame.itertuples(index=False):
            sheet.append([None if pd.isna(v) else (v.item() if hasattr(v, "item") else v)
                          for v in row])
        path = tmp_path / "c.xlsx"
        workbook.save(path)
        args = ["--sheet", "data"]
    elif fmt == "sav":
        import pyreadstat

        out = frame.copy()
        for name in out.columns:
            out[name] = out[name].astype("float64") if out[name].dtype != "str" else out[name]
        path = tmp_path / "c.sav"
        pyreadstat.write_sav(out, str(path))
        args = []
    else:
        path = tmp_path / "c.csv"
        frame.to_csv(path, index=False, sep=";", decimal=",")
        args = ["--sep", ";", "--decimal", ","] if fmt == "semicolon" else []
    result = run("validate", str(path), *args)
    assert result.exit_code == 0, result.stderr
    assert "valid:" in result.stdout and "25 rows" in result.stdout


def test_impossible_read_options_are_usage_errors(cohort_csv):
    result = run("validate", cohort_csv, "--decimal", ",")
    assert result.exit_code == 2
    assert "both ','" in result.stderr


def test_validate_with_a_mapping_names_unmapped_codes_and_rows(tmp_path, small_cohort):
    import yaml
    from study_export import MAPPING, redcap_export

    export, _ = redcap_export(small_cohort.frame.head(60))
    export.loc[[7, 41], "gender"] = 3.0
    path = tmp_path / "export.csv"
    export.to_csv(path, index=False)
    mapping = tmp_path / "study.yaml"
    mapping.write_text(yaml.safe_dump(MAPPING))
    result = run("validate", str(path), "--mapping", str(mapping))
    assert result.exit_code == 1
    assert "study column 'gender' (sex): value '3.0' in 2 row(s) (rows 8, 42) could not be " \
           "mapped" in result.stderr
    assert "mapping: converted ppt_local_kpa: kg/cm2 -> kPa (x 98.0665" in result.stdout
    assert "warning: 1 unknown column(s), kept but never used as features: visit_notes" \
        in result.stderr
    export.loc[[7, 41], "gender"] = 2.0
    export.to_csv(path, index=False)
    result = run("validate", str(path), "--mapping", str(mapping))
    assert result.exit_code == 0, result.stderr


def test_bad_mapping_file_exits_1_naming_the_key(tmp_path, cohort_csv):
    mapping = tmp_path / "study.yaml"
    mapping.write_text("columns:\n  sexx: gender\n")
    result = run("validate", cohort_csv, "--mapping", str(mapping))
    assert result.exit_code == 1
    assert "'sexx' is not a contract column (did you mean 'sex'?)" in result.stderr


def test_map_init_drafts_a_mapping_that_works_once_decided(tmp_path, small_cohort):
    from study_export import redcap_export

    export, expected = redcap_export(small_cohort.frame.head(80))
    path = tmp_path / "export.csv"
    export.to_csv(path, index=False)
    draft = tmp_path / "study.yaml"
    result = run("map", "--init", str(path), "--out", str(draft))
    assert result.exit_code == 0, result.stderr
    text = draft.read_text()
    assert "participant_id: record_id" in text
    assert "tsk11_total: tsk_11" in text
    assert "average: [ppt_l_t1_kg, ppt_l_t2_kg]\n    unit: kg/cm2" in text
    assert "missing: [99]" in text
    assert "to decide: gender -> sex: value(s) 1, 2 could not be mapped (TODO)" in result.stderr
    assert "not mapped: visit_notes" in result.stderr
    # The undecided draft refuses to load; decided, it maps the export onto the contract.
    refused = run("validate", str(path), "--mapping", str(draft))
    assert refused.exit_code == 1 and "'TODO' is not a value of sex" in refused.stderr
    draft.write_text(text.replace("'1': TODO", "'1': female").replace("'2': TODO",
                                                                      "'2': male"))
    assert run("validate", str(path), "--mapping", str(draft)).exit_code == 0
    again = run("map", "--init", str(path), "--out", str(draft))
    assert again.exit_code == 1 and "exists" in again.stderr
    contract = tmp_path / "contract.csv"
    result = run("map", str(path), "--mapping", str(draft), "--out", str(contract))
    assert result.exit_code == 0, result.stderr
    from eihpredict.validation import read_valid_cohort

    frame = read_valid_cohort(contract)
    assert frame["sex"].astype(str).tolist() == expected["sex"].tolist()
    np.testing.assert_allclose(frame["eih_ppt_post_kpa"], expected["eih_ppt_post_kpa"],
                               rtol=1e-9)
    np.testing.assert_allclose(frame["tsk11_total"], expected["tsk11_total"])


def test_map_needs_init_or_mapping(cohort_csv):
    assert run("map", cohort_csv).exit_code == 2


@pytest.mark.parametrize("sep", ["\\t", "tab"])
def test_tab_separator_as_typed_in_a_shell(tmp_path, sep):
    path = write(tmp_path, "t.csv", "participant_id\tsex\np1\tmale\n")
    result = run("validate", path, "--sep", sep)
    assert result.exit_code == 0, result.stderr


def test_score_takes_data_and_out_like_the_other_commands(tmp_path, trained, cohort_csv):
    """One set of option names: ``--data``/``--out`` everywhere; score keeps the
    contract's ``--input``/``--output`` as the same options."""
    old = tmp_path / "old.csv"
    new = tmp_path / "new.csv"
    model = str(trained.model_dir)
    assert run("score", "--model", model, "--input", cohort_csv, "--output",
               str(old)).exit_code == 0
    assert run("score", "--model", model, "--data", cohort_csv, "--out",
               str(new)).exit_code == 0
    assert new.read_bytes() == old.read_bytes()
    assert len(new.read_bytes().splitlines()) == 301  # header and every row

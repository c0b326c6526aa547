"""`eihpredict validate` on malformed files: exit 1, the problem named, no traceback."""

from __future__ import annotations

import subprocess
import sys

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
    "semicolons": ("a.csv", "participant_id;sex\np1;male\n",
                   "separated by semicolons, not the default ','; read it with --sep ';'"),
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


def test_short_line_deep_in_a_chunked_file_reads_as_missing_cells(tmp_path):
    path = _rows_file(tmp_path, {61: "p60,male"})
    result = run("validate", path, "--chunk-size", "25")
    assert result.exit_code == 0, result.stderr


def test_long_line_deep_in_a_chunked_file_is_named(tmp_path):
    path = _rows_file(tmp_path, {81: "p80,male,1,300,9,9"})
    for chunk in ("25", "1000"):
        result = run("validate", path, "--chunk-size", chunk)
        assert result.exit_code == 1
        assert "line 82: expected 4 comma-separated fields, saw 6" in result.stderr

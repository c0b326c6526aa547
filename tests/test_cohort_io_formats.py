"""Excel, SPSS, semicolon/decimal-comma CSV and Parquet read like the plain CSV.

Each file is written here by the library a lab would use (openpyxl, pyreadstat, pandas)
from the same simulated cohort; validating it must give the same issues and reading it
the same typed values as the CSV.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from eihpredict.cohort_io import CohortFileError, ReadOptions, input_format, open_cohort
from eihpredict.simulate import simulate_cohort
from eihpredict.validation import read_valid_cohort, validate_file

TEXT = ("participant_id", "site", "population", "sex", "cpm_paradigm", "cpm_conditioning",
        "exercise_modality")


@pytest.fixture(scope="module")
def clean() -> pd.DataFrame:
    return simulate_cohort(40, seed=3).frame


@pytest.fixture(scope="module")
def broken(clean) -> pd.DataFrame:
    """The cohort with one problem of each kind every format can hold."""
    frame = clean.copy()
    frame["pcs_02"] = frame["pcs_02"].astype("float64")
    frame.loc[3, "pcs_02"] = 9            # out of range
    frame.loc[5, "pcs_02"] = 2.5          # fraction in an item
    frame.loc[6, "sex"] = "robot"         # unknown category
    frame.loc[8, "sex"] = None            # blank required cell
    frame.loc[12, "participant_id"] = frame.loc[2, "participant_id"]  # duplicate id
    frame.loc[15, "ppt_local_kpa"] = 2500.0  # out of range
    return frame


def write_xlsx(frame: pd.DataFrame, path, *, sheet: str = "cohort", before: int = 0) -> None:
    import openpyxl

    workbook = openpyxl.Workbook()
    first = workbook.active
    first.title = "notes" if before else sheet
    if before:
        first.append(["this sheet holds notes, not data"])
        sheet_ = workbook.create_sheet(sheet)
    else:
        sheet_ = first
    sheet_.append(list(frame.columns))
    for row in frame.itertuples(index=False):
        sheet_.append([None if pd.isna(v) else (v.item() if hasattr(v, "item") else v)
                       for v in row])
    sheet_.append([None] * len(frame.columns))  # a blank trailing row, as Excel leaves
    workbook.save(path)


def write_sav(frame: pd.DataFrame, path, labels: dict | None = None) -> None:
    import pyreadstat

    out = frame.copy()
    for name in out.columns:
        if name in TEXT:
            out[name] = out[name].astype("object").where(out[name].notna(), "")
        else:
            out[name] = out[name].astype("float64")
    pyreadstat.write_sav(out, str(path), variable_value_labels=labels or {})


def issue_set(report_path) -> list[tuple]:
    """Issues as (row, participant, column, rule, value as a number where it is one)."""
    report = pd.read_csv(report_path, dtype=str, keep_default_na=False)
    out = []
    for r in report.itertuples():
        try:
            value: object = float(r.value)
        except ValueError:
            value = r.value
        out.append((int(r.row), r.participant_id, r.column, r.rule, value))
    return out


@pytest.fixture(scope="module")
def files(tmp_path_factory, clean, broken):
    root = tmp_path_factory.mktemp("formats")
    paths = {}
    for name, frame in (("clean", clean), ("broken", broken)):
        paths[name, "csv"] = root / f"{name}.csv"
        frame.to_csv(paths[name, "csv"], index=False)
        paths[name, "semicolon"] = root / f"{name}_eu.csv"
        frame.to_csv(paths[name, "semicolon"], index=False, sep=";", decimal=",")
        paths[name, "parquet"] = root / f"{name}.parquet"
        frame.to_parquet(paths[name, "parquet"], index=False)
        paths[name, "xlsx"] = root / f"{name}.xlsx"
        write_xlsx(frame, paths[name, "xlsx"])
        paths[name, "sav"] = root / f"{name}.sav"
        write_sav(frame, paths[name, "sav"])
    return paths


OPTIONS = {"csv": None, "semicolon": ReadOptions(sep=";", decimal=","), "parquet": None,
           "xlsx": None, "sav": None}


@pytest.mark.parametrize("fmt", ["semicolon", "parquet", "xlsx", "sav"])
def test_every_format_gives_the_csv_issues(files, tmp_path, fmt):
    expected = validate_file(files["broken", "csv"], report=tmp_path / "csv.csv")
    got = validate_file(files["broken", fmt], report=tmp_path / "got.csv",
                        read_options=OPTIONS[fmt])
    assert (got.n_rows, got.n_invalid_rows, got.n_issues) == (
        expected.n_rows, expected.n_invalid_rows, expected.n_issues) == (40, 6, 6)
    assert issue_set(tmp_path / "got.csv") == issue_set(tmp_path / "csv.csv")


@pytest.mark.parametrize("fmt", ["semicolon", "parquet", "xlsx", "sav"])
def test_every_format_reads_the_csv_typed_values(files, fmt):
    expected = read_valid_cohort(files["clean", "csv"])
    got = read_valid_cohort(files["clean", fmt], read_options=OPTIONS[fmt])
    pd.testing.assert_frame_equal(got, expected, check_dtype=True)


@pytest.mark.parametrize("fmt", ["xlsx", "sav", "semicolon"])
def test_streamed_chunks_equal_one_pass(files, tmp_path, fmt):
    validate_file(files["broken", fmt], report=tmp_path / "a.csv", chunk_size=1000,
                  read_options=OPTIONS[fmt])
    validate_file(files["broken", fmt], report=tmp_path / "b.csv", chunk_size=7,
                  read_options=OPTIONS[fmt])
    assert (tmp_path / "a.csv").read_text() == (tmp_path / "b.csv").read_text()


def test_chunks_of_xlsx_and_sav_have_the_requested_size(files):
    for fmt in ("xlsx", "sav"):
        sizes = [len(c) for c, _ in open_cohort(files["clean", fmt]).chunks(16)]
        assert sizes == [16, 16, 8], fmt


def test_input_format_by_extension():
    assert [input_format(n) for n in ("a.csv", "a.parquet", "a.xlsx", "a.sav")] == [
        "csv", "parquet", "xlsx", "sav"]
    with pytest.raises(CohortFileError, match="old Excel .xls format"):
        input_format("a.xls")
    with pytest.raises(CohortFileError, match=r"expected a .csv, .parquet, .xlsx or .sav"):
        input_format("a.docx")


# -- Excel -------------------------------------------------------------------------------

def test_xlsx_sheet_is_chosen_by_name_or_number(tmp_path, clean):
    path = tmp_path / "two.xlsx"
    write_xlsx(clean.head(5), path, sheet="cohort", before=1)
    with pytest.raises(CohortFileError, match="missing required column"):
        open_cohort(path)  # the first sheet holds notes
    by_name = read_valid_cohort(path, read_options=ReadOptions(sheet="cohort"))
    by_number = read_valid_cohort(path, read_options=ReadOptions(sheet="2"))
    assert by_name["participant_id"].tolist() == clean["participant_id"].head(5).tolist()
    pd.testing.assert_frame_equal(by_name, by_number)
    with pytest.raises(CohortFileError, match="no sheet 'data'; the workbook has 'notes', "
                                              "'cohort'"):
        open_cohort(path, options=ReadOptions(sheet="data"))


def test_xlsx_numbers_read_as_written(tmp_path):
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["participant_id", "sex", "ppt_local_kpa", "pcs_01", "note"])
    sheet.append([101, "Female", 350.25, 2, True])
    sheet.append([102, "male", 1e-3, 4.0, None])
    workbook.save(tmp_path / "n.xlsx")
    (chunk, _), = open_cohort(tmp_path / "n.xlsx").chunks()
    assert chunk.to_dict("list") == {
        "participant_id": ["101", "102"], "sex": ["Female", "male"],
        "ppt_local_kpa": ["350.25", "0.001"], "pcs_01": ["2", "4"],
        "note": ["TRUE", np.nan]}


def test_xlsx_value_beyond_the_header_is_refused(tmp_path):
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["participant_id", "sex"])
    sheet.append(["p1", "male", "stray"])
    workbook.save(tmp_path / "r.xlsx")
    with pytest.raises(CohortFileError, match=r"row 2: a value in column 3 beyond the 2"):
        validate_file(tmp_path / "r.xlsx")


def test_unreadable_xlsx_and_sav_are_named(tmp_path):
    (tmp_path / "g.xlsx").write_bytes(b"not a zip")
    (tmp_path / "g.sav").write_bytes(b"not spss")
    with pytest.raises(CohortFileError, match="not a readable Excel .xlsx workbook"):
        open_cohort(tmp_path / "g.xlsx")
    with pytest.raises(CohortFileError, match="not a readable SPSS .sav file"):
        open_cohort(tmp_path / "g.sav")


# -- SPSS --------------------------------------------------------------------------------

def test_sav_value_labels_are_applied_but_items_keep_their_codes(tmp_path, clean):
    frame = clean.head(6).copy()
    frame["sex"] = frame["sex"].map({"female": 1.0, "male": 2.0})
    frame.loc[0, "sex"] = 3.0  # a code without a label
    labels = {"sex": {1.0: "female", 2.0: "male"},
              "tsk_01": {1.0: "strongly disagree", 4.0: "strongly agree"}}
    out = frame.copy()
    for name in out.columns:
        out[name] = out[name].astype("object").where(out[name].notna(), "") if (
            name in TEXT and name != "sex") else out[name].astype("float64")
    import pyreadstat

    pyreadstat.write_sav(out, str(tmp_path / "l.sav"), variable_value_labels=labels)
    summary = validate_file(tmp_path / "l.sav", report=tmp_path / "r.csv")
    assert issue_set(tmp_path / "r.csv") == [
        (1, clean.loc[0, "participant_id"], "sex", "one of female, male; unknown category", 3.0)]
    assert summary.n_invalid_rows == 1
    (chunk, _), = open_cohort(tmp_path / "l.sav").chunks()
    assert chunk["sex"].tolist()[1:] == clean["sex"].head(6).tolist()[1:]
    assert chunk["tsk_01"].tolist() == clean["tsk_01"].head(6).astype("float64").tolist()


def test_sav_numeric_ids_read_without_a_decimal_point(tmp_path):
    import pyreadstat

    frame = pd.DataFrame({"participant_id": [101.0, 102.0], "sex": ["male", "female"]})
    pyreadstat.write_sav(frame, str(tmp_path / "ids.sav"))
    assert read_valid_cohort(tmp_path / "ids.sav")["participant_id"].tolist() == ["101", "102"]


# -- CSV separators and decimal commas ----------------------------------------------------

def test_semicolon_decimal_comma_file_is_read_without_options(files, clean, tmp_path, caplog):
    with caplog.at_level("INFO", logger="eihpredict"):
        got = read_valid_cohort(files["clean", "semicolon"])
    pd.testing.assert_frame_equal(got, read_valid_cohort(_csv(tmp_path, clean)))
    assert "separated by semicolons; reading it with sep=';', decimal=','" in caplog.text
    ids = clean["participant_id"].astype(str)
    assert not any(pid in caplog.text for pid in ids)  # the log names options, no values


def test_semicolon_file_with_decimal_points_keeps_its_points(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("participant_id;sex;ppt_local_kpa;note\np1;male;350.5;1,5 h\n")
    got = read_valid_cohort(path)
    assert got["ppt_local_kpa"].tolist() == [350.5]


@pytest.mark.parametrize(("text", "sep", "message"), [
    ("participant_id;sex;ppt_local_kpa\np1;male;350,5\n", ",",
     r"separated by semicolons, not ','; read it with --sep ';' --decimal ','"),
    ("participant_id,sex\np1,male\n", ";",
     r"separated by commas, not ';'; read it with --sep ','"),
])
def test_an_explicit_sep_that_does_not_split_the_header_is_hinted(tmp_path, text, sep,
                                                                   message):
    path = tmp_path / "s.csv"
    path.write_text(text)
    with pytest.raises(CohortFileError, match=message):
        open_cohort(path, options=ReadOptions(sep=sep))


def test_decimal_comma_leaves_ids_and_text_alone(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("participant_id;sex;ppt_local_kpa;pcs_01;note\n"
                    "1,5;male;350,5;2;3,25\n2,5;female;,5;;a,b\n")
    (chunk, _), = open_cohort(path, options=ReadOptions(sep=";", decimal=",")).chunks()
    assert chunk["participant_id"].tolist() == ["1,5", "2,5"]
    assert chunk["ppt_local_kpa"].tolist() == ["350.5", ".5"]
    assert chunk["note"].tolist() == ["3.25", "a,b"]


def test_impossible_read_options_are_refused(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("participant_id,sex\np1,male\n")
    with pytest.raises(ValueError, match="both ','"):
        open_cohort(path, options=ReadOptions(decimal=","))
    with pytest.raises(ValueError, match="expected '.' or ','"):
        open_cohort(path, options=ReadOptions(sep=";", decimal="x"))


def test_tab_separated_file_reads_with_sep_tab(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("participant_id\tsex\tage_years\np1\tmale\t40\n")
    with pytest.raises(CohortFileError, match=r"separated by tabs.*--sep '\\t'"):
        open_cohort(path, options=ReadOptions(sep=","))
    for options in (None, ReadOptions(sep="\t")):
        frame = read_valid_cohort(path, read_options=options)
        assert frame["age_years"].tolist() == [40.0]


def test_ragged_line_names_the_separator(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("participant_id;sex\np1;male\np2;male;x;y\n")
    with pytest.raises(CohortFileError, match=r"line 3: expected 2 ';'-separated fields"):
        validate_file(path, read_options=ReadOptions(sep=";"))


def test_score_file_reads_excel_and_spss_like_the_csv(trained, files, tmp_path):
    from eihpredict.scoring import score_file

    outputs = {}
    for fmt in ("csv", "xlsx", "sav"):
        out = tmp_path / f"{fmt}.csv"
        summary = score_file(trained.model_dir, files["broken", fmt], out,
                             rejects=tmp_path / f"{fmt}.rejects.csv", chunk_size=16)
        assert (summary.n_scored, summary.n_rejected) == (34, 6), fmt
        outputs[fmt] = pd.read_csv(out)
    for fmt in ("xlsx", "sav"):
        pd.testing.assert_series_equal(outputs[fmt]["p_impaired_eih"],
                                       outputs["csv"]["p_impaired_eih"], check_exact=True)


def test_compressed_semicolon_csv_is_read_with_or_without_sep(tmp_path, clean):
    path = tmp_path / "eu.csv.gz"
    clean.to_csv(path, index=False, sep=";", decimal=",")
    with pytest.raises(CohortFileError, match="separated by semicolons"):
        open_cohort(path, options=ReadOptions(sep=","))
    plain = read_valid_cohort(_csv(tmp_path, clean))
    for options in (None, ReadOptions(sep=";", decimal=",")):
        got = read_valid_cohort(path, read_options=options)
        pd.testing.assert_frame_equal(got, plain)


def _csv(tmp_path, frame):
    path = tmp_path / "plain.csv"
    frame.to_csv(path, index=False)
    return path


def _truncated(tmp_path, clean, name, *, cut: int = 20, extra: bool = False):
    """The cohort as CSV with data row ``cut`` cut short (or given a field too many)."""
    import bz2
    import gzip

    lines = clean.to_csv(index=False).splitlines()
    if extra:
        lines[cut] = lines[cut] + ",surplus"
    else:
        lines[cut] = ",".join(lines[cut].split(",")[:5])  # 5 of the header's fields
    data = ("\n".join(lines) + "\n").encode()
    path = tmp_path / name
    opener = {".gz": gzip.compress, ".bz2": bz2.compress}.get(path.suffix, lambda b: b)
    path.write_bytes(opener(data))
    return path


@pytest.mark.parametrize("name", ["t.csv", "t.csv.gz", "t.csv.bz2"])
@pytest.mark.parametrize("extra", [False, True], ids=["short", "long"])
def test_a_short_or_long_line_is_refused_naming_it_in_every_reader(tmp_path, clean, trained,
                                                                    name, extra):
    """Issue 25: a truncated export was read with blank cells and reported valid."""
    from eihpredict._draft import draft_mapping
    from eihpredict.mapping import StudyMapping, map_file
    from eihpredict.scoring import score_file

    path = _truncated(tmp_path, clean, name, extra=extra)
    n = clean.shape[1]
    saw = n + 1 if extra else 5
    expected = rf"line 21: expected {n} comma-separated fields, saw {saw} \("
    with pytest.raises(CohortFileError, match=expected):
        validate_file(path)
    with pytest.raises(CohortFileError, match=expected):
        read_valid_cohort(path)  # train
    with pytest.raises(CohortFileError, match=expected):
        score_file(trained.model_dir, path, tmp_path / "s.csv", chunk_size=7)
    assert not (tmp_path / "s.csv").exists()
    with pytest.raises(CohortFileError, match=expected):
        map_file(path, StudyMapping.from_dict({"columns": {"age_years": "age_years"}}),
                 tmp_path / "m.csv")
    with pytest.raises(CohortFileError, match=expected):
        draft_mapping(path)


def test_a_quoted_line_break_and_blank_last_cells_are_not_ragged(tmp_path):
    """The line count follows CSV quoting: a quoted line break is one record."""
    path = tmp_path / "q.csv"
    # (a line break in a free-text column: participant ids may not hold one)
    rows = [f"p{i},,male,{300 + i}," for i in range(30)]
    path.write_text("participant_id,visit_notes,sex,ppt_local_kpa,site\n"
                    + 'px,"two\nlines",female,280,a\n' + "\n".join(rows) + "\n")
    frame = read_valid_cohort(path)
    assert frame["participant_id"].iloc[0] == "px" and len(frame) == 31
    assert frame["site"].isna().sum() == 30

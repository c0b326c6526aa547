"""Reading cohort files in chunks, and writing outputs atomically.

Input formats, chosen by the file name: CSV (``,`` by default; a header separated by
semicolons, tabs or ``|`` is read with that separator, and with a decimal comma when the
first lines hold one; :class:`ReadOptions` chooses them explicitly), Parquet, Excel
``.xlsx`` (first sheet unless one is named) and SPSS ``.sav`` (value labels applied to
every column that is not a numeric contract column). All stream in chunks: CSV and
Parquet through Arrow, ``.xlsx`` through openpyxl's read-only mode, ``.sav`` through
pyreadstat's row ranges.

File-level problems (empty file, wrong separator, not UTF-8, binary data, duplicated
or missing required columns, ragged lines, an unknown sheet) raise
:class:`CohortFileError` with one readable line. Cell-level problems are the
validator's job (:mod:`eihpredict.validation`); this module hands it raw cells: CSV
and Excel cells as text, exactly as written (numbers in their shortest round-trip
form), Parquet and SPSS numbers in their stored types, so nothing is coerced before
it is checked.
"""

from __future__ import annotations

import codecs
import csv
import logging
import os
import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .fileio import atomic_path, neutralise_formulas
from .schema import COLUMNS, REQUIRED_COLUMNS

__all__ = [
    "CohortFileError",
    "CohortSource",
    "ReadOptions",
    "apply_value_labels",
    "atomic_path",
    "check_columns",
    "file_format",
    "input_format",
    "numbers_as_text",
    "open_cohort",
    "write_table",
]

#: Contract columns holding numbers: SPSS value labels are not applied to them.
NUMERIC_COLUMNS: frozenset[str] = frozenset(c.name for c in COLUMNS if c.is_numeric)
#: Contract columns holding free text (ids): never touched by a decimal-comma reading,
#: and written without a spurious ``.0`` when a spreadsheet stored them as numbers.
TEXT_COLUMNS: frozenset[str] = frozenset(c.name for c in COLUMNS if c.is_text)
logger = logging.getLogger("eihpredict")

_SEPARATOR_NAMES = {",": "commas", ";": "semicolons", "\t": "tabs", "|": "'|'"}
_COMMA_NUMBER = r"\s*[+-]?(?:\d+,\d*|,\d+)(?:[eE][+-]?\d+)?\s*"

_SNIFF_BYTES = 1 << 16
#: Data lines a decimal comma is looked for in, when no separator was given.
_SNIFF_LINES = 50


class CohortFileError(ValueError):
    """A cohort file that cannot be read as a table at all (one-line message)."""


def file_format(path: str | os.PathLike[str]) -> str:
    """Return ``"csv"`` or ``"parquet"`` from the name of a file to write.

    Outputs (scores, rejects, converted tables) are CSV or Parquet only; inputs may
    also be Excel or SPSS files (:func:`input_format`).

    Examples
    --------
    >>> file_format("cohort.PARQUET"), file_format("x.csv.gz")
    ('parquet', 'csv')
    """
    name = Path(path).name.lower()
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    if name.endswith((".csv", ".csv.gz", ".csv.bz2", ".csv.zst", ".txt")):
        return "csv"
    raise CohortFileError(
        f"{path}: unknown file type; expected a .csv or .parquet file name"
    )


def input_format(path: str | os.PathLike[str]) -> str:
    """Return ``"csv"``, ``"parquet"``, ``"xlsx"`` or ``"sav"`` from an input file's name.

    Examples
    --------
    >>> input_format("study.XLSX"), input_format("export.sav"), input_format("c.csv")
    ('xlsx', 'sav', 'csv')
    """
    name = Path(path).name.lower()
    if name.endswith((".xlsx", ".xlsm")):
        return "xlsx"
    if name.endswith((".sav", ".zsav")):
        return "sav"
    if name.endswith(".xls"):
        raise CohortFileError(f"{path}: the old Excel .xls format cannot be read; save the "
                              "sheet as .xlsx (Excel workbook) or .csv")
    try:
        return file_format(path)
    except CohortFileError:
        raise CohortFileError(
            f"{path}: unknown file type; expected a .csv, .parquet, .xlsx or .sav file name"
        ) from None


@dataclass(frozen=True)
class ReadOptions:
    """How to read a file beyond what its name says.

    Parameters
    ----------
    sep : str, optional
        CSV field separator, e.g. ``";"`` for European exports. Not given: the header's
        own separator (comma, semicolon, tab or ``|``), with a decimal comma when the
        first 50 data lines show one and ``decimal`` was left at ``"."``; given, it is
        used as it is and a header it does not split is refused with a hint.
    decimal : str
        CSV decimal mark, ``"."`` or ``","``. With ``","``, cells written as numbers
        with a decimal comma (``"3,5"``) are read as ``"3.5"`` in every column but the
        text columns (ids); cells with a ``"."`` are left as written. Thousands
        separators are not supported.
    sheet : str, optional
        Excel sheet name (or its 1-based number); default the first sheet.

    Examples
    --------
    >>> ReadOptions(sep=";", decimal=",")
    ReadOptions(sep=';', decimal=',', sheet=None)
    """

    sep: str | None = None
    decimal: str = "."
    sheet: str | None = None

    def check(self) -> None:
        """Raise ``ValueError`` for options that cannot work together."""
        sep = self.sep if self.sep is not None else ","
        if len(sep) != 1 or sep in "\"\r\n":
            raise ValueError(f"Got sep={self.sep!r}; expected one character such as ',' or "
                             "';' (a tab is '\\t').")
        if self.decimal not in (".", ","):
            raise ValueError(f"Got decimal={self.decimal!r}; expected '.' or ','.")
        if self.decimal == sep:
            raise ValueError(f"The separator and the decimal mark are both {sep!r}; a "
                             "decimal-comma file needs another separator (sep=';').")

    @property
    def separator(self) -> str:
        """The CSV separator in effect (``","`` unless ``sep`` says otherwise)."""
        return self.sep if self.sep is not None else ","


@dataclass
class CohortSource:
    """An opened cohort file: its columns, size, and an iterator over raw chunks.

    ``format`` is ``"csv"``, ``"parquet"``, ``"xlsx"`` or ``"sav"``. ``total_bytes``
    (plain CSV) or ``total_rows`` (the other formats, when the file states it) size a
    progress bar; ``value_labels`` holds an SPSS file's labels per column.
    """

    path: Path
    format: str
    columns: list[str]
    total_bytes: int | None
    total_rows: int | None
    options: ReadOptions = field(default_factory=ReadOptions)
    keep_codes: frozenset[str] = NUMERIC_COLUMNS
    text_columns: frozenset[str] = TEXT_COLUMNS
    value_labels: dict[str, dict] = field(default_factory=dict)

    def chunks(self, chunk_size: int = 100_000) -> Iterator[tuple[pd.DataFrame, int]]:
        """Yield ``(raw_chunk, progress_position)`` pairs.

        ``progress_position`` is bytes read (plain CSV) or rows read (the other
        formats), matching ``total_bytes`` / ``total_rows`` for a progress bar. CSV and
        Excel cells arrive as text (``str`` dtype, empty cell = missing), Parquet and
        SPSS cells in their stored types (SPSS labels applied as text).
        """
        if chunk_size < 1:
            raise ValueError(f"Got chunk_size={chunk_size!r}; expected a positive integer.")
        if self.format == "parquet":
            yield from self._parquet_chunks(chunk_size)
        elif self.format == "xlsx":
            yield from self._xlsx_chunks(chunk_size)
        elif self.format == "sav":
            yield from self._sav_chunks(chunk_size)
        elif self.options.decimal == ",":
            for chunk, position in self._csv_chunks(chunk_size):
                yield self._decimal_points(chunk), position
        else:
            yield from self._csv_chunks(chunk_size)

    def _decimal_points(self, chunk: pd.DataFrame) -> pd.DataFrame:
        """Decimal commas to points in number-like cells of every non-text column."""
        for name in chunk.columns:
            if name in self.text_columns:
                continue
            text = chunk[name]
            comma = text.str.fullmatch(_COMMA_NUMBER).fillna(False).to_numpy(dtype=bool)
            if comma.any():
                chunk[name] = text.where(~comma, text.str.replace(",", ".", regex=False))
        return chunk

    def _csv_chunks(self, chunk_size: int) -> Iterator[tuple[pd.DataFrame, int]]:
        """Arrow's multithreaded CSV reader (all cells as text; plain or ``.gz``,
        ``.bz2``, ``.zst``), re-cut into chunks of exactly ``chunk_size`` rows; on
        anything Arrow refuses (a ragged line, a quoted line break, bad UTF-8) pandas'
        reader takes over from the first row not yet yielded, and names the line: a line
        with fewer or more fields than the header is an error (pandas would pad a short
        one with missing cells)."""
        n_seen = 0
        try:
            for chunk, position in self._arrow_csv_chunks(chunk_size):
                n_seen += len(chunk)
                yield chunk, position
        except _ArrowFallback:
            for chunk, position in self._pandas_csv_chunks(chunk_size, skip=n_seen):
                n_seen += len(chunk)
                yield chunk, position
        if n_seen == 0:
            raise CohortFileError(f"{self.path}: header only, no data rows")

    def _arrow_csv_chunks(self, chunk_size: int) -> Iterator[tuple[pd.DataFrame, int]]:
        import pyarrow as pa
        import pyarrow.csv as pacsv

        codec = _arrow_codec(self.path)
        if self.total_bytes is None and codec is None:  # .zip, .xz: pandas decompresses
            raise _ArrowFallback
        text = {name: pa.string() for name in self.columns}
        with open(self.path, "rb") as handle:
            stream = handle if codec is None else pa.CompressedInputStream(handle, codec)
            n_rows = 0

            def position() -> int:  # bytes of a plain file, rows of a compressed one
                return handle.tell() if codec is None else n_rows

            try:
                reader = pacsv.open_csv(
                    stream,
                    read_options=pacsv.ReadOptions(block_size=1 << 22, use_threads=True),
                    parse_options=pacsv.ParseOptions(delimiter=self.options.separator),
                    convert_options=pacsv.ConvertOptions(
                        column_types=text, strings_can_be_null=True, null_values=[""],
                        quoted_strings_can_be_null=True),
                )
                buffered: list = []
                n_buffered = 0
                for batch in reader:
                    buffered.append(batch)
                    n_buffered += batch.num_rows
                    while n_buffered >= chunk_size:
                        table = pa.Table.from_batches(buffered)
                        n_rows += chunk_size
                        yield _to_pandas(table.slice(0, chunk_size)), position()
                        rest = table.slice(chunk_size)
                        buffered, n_buffered = rest.to_batches(), rest.num_rows
                if n_buffered:
                    n_rows += n_buffered
                    yield _to_pandas(pa.Table.from_batches(buffered)), position()
            except (pa.ArrowInvalid, pa.ArrowTypeError, OSError):
                raise _ArrowFallback from None

    def _pandas_csv_chunks(self, chunk_size: int, skip: int = 0
                           ) -> Iterator[tuple[pd.DataFrame, int]]:
        n_seen = skip
        with open(self.path, "rb") as handle:
            try:  # the reader decodes its first block already when it is created
                reader = pd.read_csv(
                    handle if self.total_bytes else self.path,
                    sep=self.options.separator,
                    dtype=str,
                    keep_default_na=False,
                    na_values=[""],
                    encoding="utf-8-sig",
                    chunksize=chunk_size,
                    skiprows=range(1, skip + 1) if skip else None,
                )
                checked = False
                for chunk in reader:
                    # pandas pads a short line with missing cells on the right, so only a
                    # chunk whose last column has a missing cell can hold one: then the
                    # file's lines are counted once (the Arrow path never gets here for
                    # a clean file, so a clean file is read once).
                    if not checked and len(chunk.columns) > 1 and chunk.iloc[:, -1].isna().any():
                        _check_field_counts(self.path, self.options.separator,
                                            len(self.columns))
                        checked = True
                    chunk.index = pd.RangeIndex(n_seen, n_seen + len(chunk))
                    n_seen += len(chunk)
                    yield chunk, handle.tell() if self.total_bytes else n_seen
            except UnicodeDecodeError as exc:
                where = f"after data row {n_seen}"
                if n_seen == skip == 0 and self.total_bytes:  # still the first block
                    with open(self.path, "rb") as raw:
                        row = raw.read(exc.start).count(b"\n")
                    where = f"in data row {row} (byte offset {exc.start})"
                raise CohortFileError(
                    f"{self.path}: not UTF-8 text {where}: byte "
                    f"{exc.object[exc.start:exc.start + 1]!r}; save the file as UTF-8"
                ) from None
            except pd.errors.ParserError as exc:
                raise CohortFileError(
                    f"{self.path}: {_parser_message(str(exc), self.options.separator)}"
                ) from None

    def _parquet_chunks(self, chunk_size: int) -> Iterator[tuple[pd.DataFrame, int]]:
        import pyarrow.parquet as pq

        n_seen = 0
        parquet = pq.ParquetFile(self.path)
        for batch in parquet.iter_batches(batch_size=chunk_size):
            frame = batch.to_pandas()
            frame.index = pd.RangeIndex(n_seen, n_seen + len(frame))
            n_seen += len(frame)
            yield frame, n_seen
        if n_seen == 0:
            raise CohortFileError(f"{self.path}: no data rows")

    def _xlsx_chunks(self, chunk_size: int) -> Iterator[tuple[pd.DataFrame, int]]:
        """openpyxl's read-only mode: rows arrive one by one, never the whole sheet.

        Cells become text as a CSV export would write them (numbers in their shortest
        round-trip form, dates in ISO format, ``TRUE``/``FALSE``); fully empty rows are
        skipped, as blank lines of a CSV are.
        """
        workbook, sheet = _open_sheet(self.path, self.options.sheet)
        width = len(self.columns)
        n_seen = 0
        try:
            rows = sheet.iter_rows(values_only=True)
            next(rows, None)  # the header
            buffer: list[list[str | None]] = []
            for line, values in enumerate(rows, start=2):
                cells = [_excel_text(v) for v in values]
                if not any(c is not None for c in cells):
                    continue
                if any(c is not None for c in cells[width:]):
                    extra = next(i for i, c in enumerate(cells) if i >= width and c is not None)
                    raise CohortFileError(
                        f"{self.path}: sheet {sheet.title!r} row {line}: a value in column "
                        f"{extra + 1} beyond the {width} named in the header row")
                buffer.append(cells[:width] + [None] * (width - len(cells)))
                if len(buffer) == chunk_size:
                    yield self._text_frame(buffer, n_seen), n_seen + len(buffer)
                    n_seen += len(buffer)
                    buffer = []
            if buffer:
                yield self._text_frame(buffer, n_seen), n_seen + len(buffer)
                n_seen += len(buffer)
        finally:
            workbook.close()
        if n_seen == 0:
            raise CohortFileError(f"{self.path}: sheet {sheet.title!r} has a header row only, "
                                  "no data rows")

    def _text_frame(self, rows: list[list[str | None]], start: int) -> pd.DataFrame:
        columns = list(zip(*rows, strict=True))
        return pd.DataFrame(
            {name: pd.array(values, dtype="str") for name, values in zip(self.columns, columns,
                                                                           strict=True)},
            index=pd.RangeIndex(start, start + len(rows)))

    def _sav_chunks(self, chunk_size: int) -> Iterator[tuple[pd.DataFrame, int]]:
        """pyreadstat reads row ranges; value labels are applied here (see
        :func:`apply_value_labels`), SPSS user-missing codes arrive as missing."""
        import pyreadstat

        n_seen = 0
        try:
            for frame, _ in pyreadstat.read_file_in_chunks(
                    pyreadstat.read_sav, self.path, chunksize=chunk_size):
                if not len(frame):
                    break
                frame = apply_value_labels(frame, self.value_labels, keep=self.keep_codes)
                for name in self.text_columns.intersection(frame.columns):
                    frame[name] = numbers_as_text(frame[name])
                frame.index = pd.RangeIndex(n_seen, n_seen + len(frame))
                n_seen += len(frame)
                yield frame, n_seen
        except pyreadstat.ReadstatError as exc:
            raise CohortFileError(f"{self.path}: cannot read the SPSS file ({exc})") from None
        if n_seen == 0:
            raise CohortFileError(f"{self.path}: no data rows")


class _ArrowFallback(Exception):
    """Arrow's reader refused the file; pandas' reader takes over."""


#: Compressed CSV endings Arrow decompresses itself (others: pandas).
_ARROW_CODECS = {".gz": "gzip", ".bz2": "bz2", ".zst": "zstd"}


def _arrow_codec(path: Path) -> str | None:
    return _ARROW_CODECS.get(path.suffix.lower()) if path.suffix.lower() != ".csv" else None


def _check_field_counts(path: Path, sep: str, n_fields: int) -> None:
    """Raise :class:`CohortFileError` naming the first line (1 = the header) whose number
    of fields differs from the header's (a truncated export, a stray separator)."""
    from pandas.io.common import get_handle

    with get_handle(path, "r", encoding="utf-8-sig", compression="infer",
                    errors="strict") as handles:
        reader = csv.reader(handles.handle, delimiter=sep)
        start = 1
        for record in reader:
            if record and len(record) != n_fields:
                message = _field_count_message(start, n_fields, len(record), sep)
                raise CohortFileError(f"{path}: {message}")
            start = reader.line_num + 1


def _field_count_message(line: int, expected: int, saw: int, sep: str) -> str:
    name = "comma" if sep == "," else f"{sep!r}"
    why = ("a truncated line or a missing separator?" if saw < expected
           else f"a stray {sep!r} or unquoted text?")
    return f"line {line}: expected {expected} {name}-separated fields, saw {saw} ({why})"


def _to_pandas(table) -> pd.DataFrame:
    """Arrow text columns as pandas' ``str`` dtype (Arrow-backed, no Python objects)."""
    import pyarrow as pa

    text = pd.StringDtype("pyarrow", na_value=np.nan)
    return table.to_pandas(types_mapper=lambda t: text if t in (pa.string(),
                                                                 pa.large_string()) else None)


def _parser_message(text: str, sep: str = ",") -> str:
    match = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", text)
    if match:
        expected, line, saw = match.groups()
        return _field_count_message(int(line), int(expected), int(saw), sep)
    return "cannot be parsed as CSV: " + text.strip().splitlines()[-1]


def _excel_text(value: object) -> str | None:
    """One Excel cell as a CSV export would write it; ``None`` for an empty cell."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    text = str(value)
    return text if text.strip() else None


def numbers_as_text(series: pd.Series) -> pd.Series:
    """Numbers stored in an id column, as text without a spurious ``.0``.

    Spreadsheets and SPSS store a numeric id such as 101 as a float; written as text it
    must read ``"101"``, as in the CSV export, not ``"101.0"``.

    Examples
    --------
    >>> numbers_as_text(pd.Series([101.0, None, 7.5])).tolist()
    ['101', nan, '7.5']
    """
    if not pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_bool_dtype(
            series.dtype):
        return series
    values = series.to_numpy(dtype="float64", na_value=np.nan)
    text = [None if np.isnan(v) else _excel_text(float(v)) for v in values]
    return pd.Series(pd.array(text, dtype="str"), index=series.index, name=series.name)


def apply_value_labels(frame: pd.DataFrame, labels: dict[str, dict], *,
                       keep: Collection[str] = NUMERIC_COLUMNS) -> pd.DataFrame:
    """Replace SPSS codes by their value labels, except in the ``keep`` columns.

    A labelled column becomes text: the label where the code has one, the code itself
    (``3``, not ``3.0``) where it has none, so an unlabelled code is still seen and
    reported by the validator. Numeric contract columns (items, scores) keep their codes
    even when the questionnaire's answers are labelled.

    Examples
    --------
    >>> frame = pd.DataFrame({"sex": [1.0, 2.0, 3.0, None], "tsk_01": [1.0, 4.0, 2.0, 3.0]})
    >>> labels = {"sex": {1.0: "female", 2.0: "male"}, "tsk_01": {1.0: "disagree"}}
    >>> out = apply_value_labels(frame, labels)
    >>> out["sex"].tolist(), out["tsk_01"].tolist()
    (['female', 'male', '3', nan], [1.0, 4.0, 2.0, 3.0])
    """
    out = frame.copy()
    for name, mapping in labels.items():
        if name in keep or name not in out or not mapping:
            continue
        column = out[name]
        text = numbers_as_text(column) if pd.api.types.is_numeric_dtype(column.dtype) \
            else column.astype("str")
        by_text = {_excel_text(k) if isinstance(k, float) else str(k): str(v)
                   for k, v in mapping.items()}
        out[name] = text.map(lambda v, m=by_text: m.get(v, v) if isinstance(v, str) else v
                             ).astype("str")
    return out


def open_cohort(
    path: str | os.PathLike[str],
    *,
    required: tuple[str, ...] = REQUIRED_COLUMNS,
    options: ReadOptions | None = None,
    keep_codes: Collection[str] = NUMERIC_COLUMNS,
    text_columns: Collection[str] = TEXT_COLUMNS,
) -> CohortSource:
    """Open a cohort file and check what can be checked before reading any data row.

    Parameters
    ----------
    path : path-like
        A ``.csv`` (optionally compressed), ``.parquet``, ``.xlsx`` or ``.sav`` file.
    required : tuple of str
        Columns that must exist (the contract's always-required ones by default; pass
        ``()`` when a study mapping renames the columns first).
    options : ReadOptions, optional
        CSV separator and decimal mark, Excel sheet.
    keep_codes : collection of str
        SPSS columns whose codes are kept rather than replaced by value labels (the
        numeric contract columns by default; a mapping adds its study names for them).
    text_columns : collection of str
        Id columns: never changed by a decimal-comma reading, and numbers stored in them
        read without a trailing ``.0``.

    Returns
    -------
    CohortSource

    Raises
    ------
    CohortFileError
        Missing, empty, binary, non-UTF-8 or wrongly separated file; an unreadable
        workbook or sheet; duplicated or missing required columns.
    ValueError
        For options that cannot work together (``sep`` equal to ``decimal``).
    """
    path = Path(path)
    options = options or ReadOptions()
    options.check()
    fmt = input_format(path)
    if not path.exists():
        raise CohortFileError(f"{path}: no such file")
    if path.is_dir():
        raise CohortFileError(f"{path}: is a directory, expected a file")
    size = path.stat().st_size
    if size == 0:
        raise CohortFileError(f"{path}: the file is empty")
    extra = {"options": options, "keep_codes": frozenset(keep_codes),
             "text_columns": frozenset(text_columns)}
    if fmt == "parquet":
        columns, total_rows = _parquet_header(path)
        source = CohortSource(path, fmt, columns, None, total_rows, **extra)
    elif fmt == "xlsx":
        columns, total_rows = _xlsx_header(path, options.sheet)
        source = CohortSource(path, fmt, columns, None, total_rows, **extra)
    elif fmt == "sav":
        columns, total_rows, labels = _sav_header(path)
        source = CohortSource(path, fmt, columns, None, total_rows, value_labels=labels, **extra)
    else:
        compressed = not path.name.lower().endswith((".csv", ".txt"))
        lines = _csv_head(path) if not compressed else _compressed_csv_head(path)
        columns, options = _parse_header(path, lines, options)
        extra["options"] = options
        source = CohortSource(path, fmt, columns, None if compressed else size, None, **extra)
    check_columns(path, source.columns, required)
    return source


def _csv_head(path: Path) -> list[str]:
    """The first lines of a plain CSV file (its first 64 KiB), decoded."""
    with open(path, "rb") as handle:
        head = handle.read(_SNIFF_BYTES)
    if b"\x00" in head:
        raise CohortFileError(f"{path}: binary data (NUL bytes), not a CSV text file")
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    try:
        text = decoder.decode(head, final=len(head) < _SNIFF_BYTES)
    except UnicodeDecodeError as exc:
        raise CohortFileError(
            f"{path}: not UTF-8 text (byte {head[exc.start:exc.start + 1]!r} at offset "
            f"{exc.start}); save the file as UTF-8"
        ) from None
    return text.splitlines()


def _compressed_csv_head(path: Path) -> list[str]:
    """The first lines of a compressed CSV file, as written (pandas decompresses)."""
    try:
        head = pd.read_csv(path, header=None, nrows=_SNIFF_LINES + 1, sep="\x1f", dtype=str,
                           encoding="utf-8-sig", keep_default_na=False,
                           skip_blank_lines=False, quoting=csv.QUOTE_NONE)
    except (UnicodeDecodeError, pd.errors.ParserError, OSError, EOFError) as exc:
        raise CohortFileError(f"{path}: cannot be read as compressed CSV: {exc}") from None
    except pd.errors.EmptyDataError:
        raise CohortFileError(f"{path}: the file is empty") from None
    return head[0].tolist()


def _parse_header(path: Path, lines: list[str],
                  options: ReadOptions) -> tuple[list[str], ReadOptions]:
    """The header's column names, and the options that read the file.

    With no separator given, a header that is one field when split on commas but
    several when split on semicolons, tabs or ``|`` is read with that separator, and
    with a decimal comma when the first data lines hold numbers written with one
    (``350,5``) and the decimal mark was left at ``"."``; the choice is logged (never a
    value). A header the given (or default) separator does not split, but another would,
    is refused with the options that would read it.
    """
    first_line = next(iter(lines), "")
    if not first_line.strip():
        raise CohortFileError(f"{path}: the first line is empty; expected a header row")
    sep = options.separator
    header = next(csv.reader([first_line], delimiter=sep))
    if len(header) == 1:
        for other, name in _SEPARATOR_NAMES.items():
            if other == sep or other not in first_line:
                continue
            split = next(csv.reader([first_line], delimiter=other))
            if options.sep is not None or len(split) < 2:
                raise CohortFileError(
                    f"{path}: {_separator_hint(other, name, options.sep, lines)}")
            decimal = options.decimal
            if decimal == "." and _comma_numbers(other, lines[1:_SNIFF_LINES + 1]):
                decimal = ","
            logger.info("%s: the header is separated by %s; reading it with sep=%r, "
                        "decimal=%r (give --sep/--decimal to choose)", path, name, other,
                        decimal)
            header, options = split, ReadOptions(sep=other, decimal=decimal,
                                                 sheet=options.sheet)
            break
    if any(not any(ch.isprintable() for ch in name) and name for name in header):
        raise CohortFileError(f"{path}: the header holds unprintable characters; not a CSV")
    return [name.strip() for name in header], options


def _comma_numbers(sep: str, lines: list[str]) -> bool:
    """Whether any field of these lines is a number written with a decimal comma."""
    body = "\n".join(lines)
    return re.search(r"(^|" + re.escape(sep) + r")\s*-?\d+,\d+\s*($|" + re.escape(sep)
                     + r")", body, flags=re.MULTILINE) is not None


def _separator_hint(found: str, name: str, sep: str | None, lines: list[str]) -> str:
    """The separator the header uses, and the options that would read it."""
    shown = "'\\t'" if found == "\t" else repr(found)
    given = "the default ','" if sep is None else repr(sep)
    hint = f"--sep {shown}"
    if found != "," and _comma_numbers(found, lines[1:_SNIFF_LINES + 1]):
        hint += " --decimal ','"
    return (f"the header is separated by {name}, not {given}; read it with {hint} "
            f"(in Python: ReadOptions(sep={found!r}"
            + (", decimal=','" if "--decimal" in hint else "") + "))")


def _parquet_header(path: Path) -> tuple[list[str], int]:
    import pyarrow.parquet as pq

    try:
        meta = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises several types for a corrupt file
        raise CohortFileError(f"{path}: not a readable Parquet file ({exc})") from None
    return list(meta.schema_arrow.names), meta.metadata.num_rows


def _open_sheet(path: Path, sheet: str | None):
    """The workbook (read-only, cached formula values) and the chosen worksheet."""
    import zipfile

    import openpyxl

    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise CohortFileError(f"{path}: not a readable Excel .xlsx workbook ({exc})") from None
    names = workbook.sheetnames
    if sheet is None:
        return workbook, workbook.worksheets[0]
    if sheet in names:
        return workbook, workbook[sheet]
    if str(sheet).isdigit() and 1 <= int(sheet) <= len(names):
        return workbook, workbook.worksheets[int(sheet) - 1]
    workbook.close()
    raise CohortFileError(f"{path}: no sheet {sheet!r}; the workbook has "
                          + ", ".join(repr(n) for n in names))


def _xlsx_header(path: Path, sheet_name: str | None) -> tuple[list[str], int | None]:
    workbook, sheet = _open_sheet(path, sheet_name)
    try:
        first = next(sheet.iter_rows(values_only=True, max_row=1), None)
        max_row = sheet.max_row
    finally:
        workbook.close()
    cells = [_excel_text(v) for v in (first or ())]
    while cells and cells[-1] is None:
        cells.pop()
    if not cells:
        raise CohortFileError(f"{path}: sheet {sheet.title!r} is empty or its first row is "
                              "empty; expected a header row")
    return [(c or "").strip() for c in cells], (max_row - 1 if max_row else None)


def _sav_header(path: Path) -> tuple[list[str], int | None, dict[str, dict]]:
    import pyreadstat

    try:
        _, meta = pyreadstat.read_sav(path, metadataonly=True)
    except pyreadstat.ReadstatError as exc:
        raise CohortFileError(f"{path}: not a readable SPSS .sav file ({exc})") from None
    n_rows = meta.number_rows if meta.number_rows and meta.number_rows > 0 else None
    return list(meta.column_names), n_rows, dict(meta.variable_value_labels or {})


def check_columns(path: str | os.PathLike[str], columns: list[str],
                  required: tuple[str, ...]) -> None:
    """Refuse a header with a blank or duplicated name, or lacking a required column.

    Raises
    ------
    CohortFileError
        Naming the column (and, for a wrongly cased required column, the rename).
    """
    blank = [i + 1 for i, c in enumerate(columns) if not c]
    if blank:
        raise CohortFileError(f"{path}: header column {blank[0]} has no name")
    seen: set[str] = set()
    duplicated = sorted({c for c in columns if c in seen or seen.add(c)})
    if duplicated:
        raise CohortFileError(f"{path}: duplicated column name(s): {', '.join(duplicated)}")
    missing = [c for c in required if c not in columns]
    if missing:
        lowered = {c.lower(): c for c in columns}
        hint = [f"{lowered[m]!r} -> {m!r}" for m in missing if m in lowered]
        extra = f" (names are case-sensitive: rename {', '.join(hint)})" if hint else ""
        raise CohortFileError(
            f"{path}: missing required column(s): {', '.join(missing)}{extra}"
        )


def _holds_cr(path: Path) -> bool:
    with open(path, "rb") as handle:
        return any(b"\r" in block for block in iter(lambda: handle.read(1 << 20), b""))


def write_table(frame: pd.DataFrame, path: str | os.PathLike[str], *,
                raw_text: bool = False) -> None:
    """Write a frame as CSV or Parquet (by extension), atomically.

    In a CSV, text cells starting with ``=``, ``+``, ``-``, ``@``, tab or CR get a leading
    single quote (OWASP's rule against formula injection in spreadsheets) unless
    ``raw_text``; number columns (negative numbers) and Parquet keep values as they are.
    """
    fmt = file_format(path)
    with atomic_path(path) as tmp:
        if fmt == "parquet":
            frame.to_parquet(tmp, index=False)
        else:
            text = [i for i, dtype in enumerate(frame.dtypes)
                    if not pd.api.types.is_numeric_dtype(dtype)]
            if not raw_text and text:  # in one block, not column by column (wide files)
                cells = frame.iloc[:, text].to_numpy(dtype=object)
                cells = np.array(neutralise_formulas(cells.ravel().tolist()),
                                 dtype=object).reshape(cells.shape)
                textual = set(text)
                numbers = [i for i in range(frame.shape[1]) if i not in textual]
                frame = pd.concat(
                    [frame.iloc[:, numbers].set_axis(numbers, axis=1),
                     pd.DataFrame(cells, index=frame.index, columns=text)], axis=1
                )[list(range(frame.shape[1]))].set_axis(frame.columns, axis=1)
            frame.to_csv(tmp, index=False)
            # Lines end in LF, so a CR comes from a cell. Python's csv quotes a cell
            # holding LF but not one holding only CR, which readers take for a line
            # end: then the file is written again with every text cell quoted.
            if _holds_cr(tmp):
                frame.to_csv(tmp, index=False, quoting=csv.QUOTE_NONNUMERIC)

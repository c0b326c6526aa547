"""Reading cohort files (CSV or Parquet) in chunks, and writing outputs atomically.

File-level problems (empty file, wrong separator, not UTF-8, binary data, duplicated
or missing required columns, ragged lines) raise :class:`CohortFileError` with one
readable line. Cell-level problems are the validator's job
(:mod:`eihpredict.validation`); this module hands it raw cells: CSV cells as text,
exactly as written, so nothing is coerced before it is checked.
"""

from __future__ import annotations

import codecs
import csv
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .fileio import atomic_path
from .schema import REQUIRED_COLUMNS

__all__ = [
    "CohortFileError",
    "CohortSource",
    "file_format",
    "open_cohort",
    "write_table",
]

_SNIFF_BYTES = 1 << 16


class CohortFileError(ValueError):
    """A cohort file that cannot be read as a table at all (one-line message)."""


def file_format(path: str | os.PathLike[str]) -> str:
    """Return ``"csv"`` or ``"parquet"`` from the file name.

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


@dataclass
class CohortSource:
    """An opened cohort file: its columns, size, and an iterator over raw chunks."""

    path: Path
    format: str
    columns: list[str]
    total_bytes: int | None
    total_rows: int | None

    def chunks(self, chunk_size: int = 100_000) -> Iterator[tuple[pd.DataFrame, int]]:
        """Yield ``(raw_chunk, progress_position)`` pairs.

        ``progress_position`` is bytes read (CSV) or rows read (Parquet), matching
        ``total_bytes`` / ``total_rows`` for a progress bar. CSV cells arrive as text
        (``str`` dtype, empty cell = missing), Parquet cells in their stored types.
        """
        if chunk_size < 1:
            raise ValueError(f"Got chunk_size={chunk_size!r}; expected a positive integer.")
        if self.format == "parquet":
            yield from self._parquet_chunks(chunk_size)
        else:
            yield from self._csv_chunks(chunk_size)

    def _csv_chunks(self, chunk_size: int) -> Iterator[tuple[pd.DataFrame, int]]:
        """Arrow's multithreaded CSV reader (all cells as text), re-cut into chunks of
        exactly ``chunk_size`` rows; on anything Arrow refuses (a ragged line, bad UTF-8)
        pandas' reader takes over from the first row not yet yielded, so short lines are
        still read (missing trailing cells) and errors still name their line."""
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

        if self.total_bytes is None:  # compressed: let pandas decompress
            raise _ArrowFallback
        text = {name: pa.string() for name in self.columns}
        with open(self.path, "rb") as handle:
            try:
                reader = pacsv.open_csv(
                    handle,
                    read_options=pacsv.ReadOptions(block_size=1 << 22, use_threads=True),
                    parse_options=pacsv.ParseOptions(delimiter=","),
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
                        yield _to_pandas(table.slice(0, chunk_size)), handle.tell()
                        rest = table.slice(chunk_size)
                        buffered, n_buffered = rest.to_batches(), rest.num_rows
                if n_buffered:
                    yield _to_pandas(pa.Table.from_batches(buffered)), handle.tell()
            except (pa.ArrowInvalid, pa.ArrowTypeError):
                raise _ArrowFallback from None

    def _pandas_csv_chunks(self, chunk_size: int, skip: int = 0
                           ) -> Iterator[tuple[pd.DataFrame, int]]:
        n_seen = skip
        with open(self.path, "rb") as handle:
            reader = pd.read_csv(
                handle if self.total_bytes else self.path,
                sep=",",
                dtype=str,
                keep_default_na=False,
                na_values=[""],
                encoding="utf-8-sig",
                chunksize=chunk_size,
                skiprows=range(1, skip + 1) if skip else None,
            )
            try:
                for chunk in reader:
                    chunk.index = pd.RangeIndex(n_seen, n_seen + len(chunk))
                    n_seen += len(chunk)
                    yield chunk, handle.tell() if self.total_bytes else n_seen
            except UnicodeDecodeError as exc:
                raise CohortFileError(
                    f"{self.path}: not UTF-8 text after data row {n_seen} "
                    f"(byte {exc.object[exc.start:exc.start + 1]!r}); save the file as UTF-8"
                ) from None
            except pd.errors.ParserError as exc:
                raise CohortFileError(f"{self.path}: {_parser_message(str(exc))}") from None

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


class _ArrowFallback(Exception):
    """Arrow's reader refused the file; pandas' reader takes over."""


def _to_pandas(table) -> pd.DataFrame:
    """Arrow text columns as pandas' ``str`` dtype (Arrow-backed, no Python objects)."""
    import numpy as np
    import pyarrow as pa

    text = pd.StringDtype("pyarrow", na_value=np.nan)
    return table.to_pandas(types_mapper=lambda t: text if t in (pa.string(),
                                                                 pa.large_string()) else None)


def _parser_message(text: str) -> str:
    match = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", text)
    if match:
        expected, line, saw = match.groups()
        return (
            f"line {line}: expected {expected} comma-separated fields, saw {saw} "
            "(a stray ',' or unquoted text?)"
        )
    return "cannot be parsed as CSV: " + text.strip().splitlines()[-1]


def open_cohort(
    path: str | os.PathLike[str], *, required: tuple[str, ...] = REQUIRED_COLUMNS
) -> CohortSource:
    """Open a cohort file and check what can be checked before reading any data row.

    Parameters
    ----------
    path : path-like
        A ``.csv`` (optionally compressed) or ``.parquet`` file.
    required : tuple of str
        Columns that must exist (the contract's always-required ones by default).

    Returns
    -------
    CohortSource

    Raises
    ------
    CohortFileError
        Missing, empty, binary, non-UTF-8 or wrongly separated file; duplicated or
        missing required columns.
    """
    path = Path(path)
    fmt = file_format(path)
    if not path.exists():
        raise CohortFileError(f"{path}: no such file")
    if path.is_dir():
        raise CohortFileError(f"{path}: is a directory, expected a file")
    size = path.stat().st_size
    if size == 0:
        raise CohortFileError(f"{path}: the file is empty")
    if fmt == "parquet":
        columns, total_rows = _parquet_header(path)
        source = CohortSource(path, fmt, columns, None, total_rows)
    else:
        compressed = not path.name.lower().endswith((".csv", ".txt"))
        columns = _csv_header(path) if not compressed else _compressed_csv_header(path)
        source = CohortSource(path, fmt, columns, None if compressed else size, None)
    _check_columns(path, source.columns, required)
    return source


def _csv_header(path: Path) -> list[str]:
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
    return _parse_header(path, text)


def _compressed_csv_header(path: Path) -> list[str]:
    try:
        frame = pd.read_csv(path, nrows=0, sep=",", encoding="utf-8-sig", dtype=str)
    except (UnicodeDecodeError, pd.errors.ParserError, OSError, EOFError) as exc:
        raise CohortFileError(f"{path}: cannot be read as compressed CSV: {exc}") from None
    except pd.errors.EmptyDataError:
        raise CohortFileError(f"{path}: the file is empty") from None
    return _parse_header(path, ",".join(f'"{c}"' for c in frame.columns))


def _parse_header(path: Path, text: str) -> list[str]:
    first_line = next(iter(text.splitlines()), "")
    if not first_line.strip():
        raise CohortFileError(f"{path}: the first line is empty; expected a header row")
    header = next(csv.reader([first_line]))
    if len(header) == 1:
        for sep, name in ((";", "semicolons"), ("\t", "tabs"), ("|", "'|'")):
            if sep in first_line:
                raise CohortFileError(
                    f"{path}: the header is separated by {name}; the contract requires ',' "
                    "as separator"
                )
    if any(not any(ch.isprintable() for ch in name) and name for name in header):
        raise CohortFileError(f"{path}: the header holds unprintable characters; not a CSV")
    return [name.strip() for name in header]


def _parquet_header(path: Path) -> tuple[list[str], int]:
    import pyarrow.parquet as pq

    try:
        meta = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises several types for a corrupt file
        raise CohortFileError(f"{path}: not a readable Parquet file ({exc})") from None
    return list(meta.schema_arrow.names), meta.metadata.num_rows


def _check_columns(path: Path, columns: list[str], required: tuple[str, ...]) -> None:
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


def write_table(frame: pd.DataFrame, path: str | os.PathLike[str]) -> None:
    """Write a frame as CSV or Parquet (by extension), atomically."""
    fmt = file_format(path)
    with atomic_path(path) as tmp:
        if fmt == "parquet":
            frame.to_parquet(tmp, index=False)
        else:
            frame.to_csv(tmp, index=False)

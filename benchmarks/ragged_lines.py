"""Cost of refusing short and long CSV lines (a truncated export), on a 1M-row file.

    python -m benchmarks.ragged_lines [--rows 1000000]

pandas pads a short line with missing cells, so a line with fewer fields than the header
needs an explicit check. Arrow's CSV reader refuses any ragged line itself; a clean file
is read by Arrow only (plain, ``.gz``), so the check costs nothing there. When Arrow
refuses a file (a ragged line, a quoted line break), pandas reads it, and the file's
lines are counted once with the ``csv`` module if a chunk has a missing cell in its last
column (the only place a padded short line can show). Prints median seconds of 3 reads
of every chunk (``CohortSource.chunks``) per case, and the same pandas read without the
line count, so the count's overhead is the difference.
"""

from __future__ import annotations

import argparse
import gzip
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks._util import median_seconds
from eihpredict.cohort_io import CohortFileError, open_cohort


def _read_all(path: Path) -> int:
    return sum(len(chunk) for chunk, _ in open_cohort(path, required=()).chunks(100_000))


def _pandas_path(path: Path) -> int:
    """The reader a file Arrow refuses takes (pandas, with the line count)."""
    source = open_cohort(path, required=())
    return sum(len(chunk) for chunk, _ in source._pandas_csv_chunks(100_000))


def _pandas_only(path: Path) -> int:
    reader = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""],
                         chunksize=100_000)
    return sum(len(chunk) for chunk in reader)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    n = args.rows
    frame = pd.DataFrame({"participant_id": [f"p{i}" for i in range(n)],
                          "sex": rng.choice(["female", "male"], n),
                          "age_years": rng.integers(18, 80, n),
                          "ppt_local_kpa": rng.normal(400, 100, n).round(1),
                          "ppt_remote_kpa": rng.normal(400, 100, n).round(1),
                          "pcs_total": rng.integers(0, 52, n).astype(float)})
    frame.loc[rng.random(n) < 0.05, "pcs_total"] = np.nan  # blank last cells
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        plain, packed = tmp / "clean.csv", tmp / "clean.csv.gz"
        frame.to_csv(plain, index=False)
        with gzip.open(packed, "wt", compresslevel=1) as fh:
            frame.to_csv(fh, index=False)
        truncated = tmp / "truncated.csv"  # the last line cut short
        lines = plain.read_text().splitlines()
        lines[-1] = lines[-1].rsplit(",", 2)[0]
        truncated.write_text("\n".join(lines) + "\n")

        def refused() -> None:
            try:
                _read_all(truncated)
            except CohortFileError as exc:
                assert f"line {n + 1}:" in str(exc), exc
            else:
                raise AssertionError("the truncated line was not refused")

        print(f"rows: {n:,}; columns: {frame.shape[1]}; 5 % blank last cells")
        print("| file | read by | seconds |")
        print("|---|---|---|")
        for name, _, reader, func in (
                ("clean .csv", plain, "Arrow (no count needed)", lambda: _read_all(plain)),
                ("clean .csv.gz", packed, "Arrow (no count needed)",
                 lambda: _read_all(packed)),
                ("clean .csv.gz", packed, "pandas alone (the reader before)",
                 lambda: _pandas_only(packed)),
                ("clean .csv", plain, "pandas + line count (a file Arrow refuses)",
                 lambda: _pandas_path(plain)),
                ("clean .csv", plain, "pandas alone (no check)",
                 lambda: _pandas_only(plain)),
                ("last line truncated", truncated, "refused naming the line", refused)):
            print(f"| {name} | {reader} | {median_seconds(func):.2f} |")


if __name__ == "__main__":
    main()

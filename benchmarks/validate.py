"""Validator speed: eihpredict's vectorised validator vs pandera on the same rules.

    python -m benchmarks.validate [--rows 200000]

Both check the same per-column rules (ranges, categories, required) derived from
``eihpredict.schema.COLUMNS`` on the same typed frame, once clean and once with 10 %
of the numeric cells out of range. Prints median seconds of 3 runs and the ratio.
"""

from __future__ import annotations

import argparse

import numpy as np

from benchmarks._util import median_seconds
from eihpredict.schema import COLUMNS
from eihpredict.simulate import simulate_cohort
from eihpredict.validation import validate_frame


def pandera_schema():
    import pandera.pandas as pa

    columns = {}
    for spec in COLUMNS:
        checks = []
        if spec.is_category:
            checks.append(pa.Check.isin(list(spec.categories)))
            columns[spec.name] = pa.Column(str, checks, nullable=not spec.required)
        elif spec.is_numeric:
            if spec.min is not None:
                checks.append(pa.Check.gt(spec.min) if spec.min_exclusive else
                              pa.Check.ge(spec.min))
            if spec.max is not None:
                checks.append(pa.Check.le(spec.max))
            columns[spec.name] = pa.Column(float, checks, nullable=True, required=False)
        else:
            columns[spec.name] = pa.Column(str, nullable=not spec.required,
                                           unique=spec.required, required=spec.required)
    return pa.DataFrameSchema(columns)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    args = parser.parse_args()
    import pandera.pandas as pa

    frame = simulate_cohort(args.rows, seed=0).frame
    for col in frame:
        if str(frame[col].dtype) == "Int64":
            frame[col] = frame[col].astype("float64")
        elif str(frame[col].dtype) == "category":
            frame[col] = frame[col].astype("str")
    dirty = frame.copy()
    rng = np.random.default_rng(0)
    numeric = [c.name for c in COLUMNS if c.is_numeric and c.max is not None and c.name in frame]
    for col in numeric:
        dirty.loc[rng.random(len(dirty)) < 0.10, col] = 1e6
    schema = pandera_schema()

    def run_pandera(data):
        try:
            schema.validate(data, lazy=True)
        except pa.errors.SchemaErrors:
            pass

    print(f"rows: {args.rows:,}; columns: {frame.shape[1]}")
    print("| data | eihpredict (s) | pandera (s) | pandera / eihpredict |")
    print("|---|---|---|---|")
    for name, data in (("clean", frame), ("10 % bad numeric cells", dirty)):
        ours = median_seconds(lambda d=data: validate_frame(d))
        theirs = median_seconds(lambda d=data: run_pandera(d))
        print(f"| {name} | {ours:.2f} | {theirs:.2f} | {theirs / ours:.1f}x |")


if __name__ == "__main__":
    main()

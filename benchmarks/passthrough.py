"""Scoring a file with many pass-through columns, and the refused oversized --explain.

    python -m benchmarks.passthrough [--columns 20000] [--rows 20]

Trains the quick pipeline on 300 simulated participants, writes a file of ``--rows``
rows with ``--columns`` extra (pass-through) columns, and times ``eihpredict score`` on
it (the CLI in a fresh process, as a user runs it) and ``score --explain 1000000000``
(refused before any work). Target (issue 27): 20,000 pass-through columns on 20 rows
in seconds, not minutes (columns were added one at a time: 478 s).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _score(model: Path, data: Path, out: Path, *extra: str) -> tuple[float, int, str]:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "eihpredict.cli", "score", "--model",
                           str(model), "--input", str(data), "--output", str(out), *extra],
                          capture_output=True, text=True)
    return time.perf_counter() - start, proc.returncode, proc.stderr.strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--columns", type=int, default=20_000)
    parser.add_argument("--rows", type=int, default=20)
    args = parser.parse_args()

    import numpy as np
    import pandas as pd

    from eihpredict.config import load_config
    from eihpredict.simulate import simulate_cohort
    from eihpredict.training import train

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        cohort = simulate_cohort(300, seed=3).frame
        cohort.to_csv(tmp / "train.csv", index=False)
        train(load_config(ROOT / "pipelines" / "quick.yaml"), tmp / "train.csv",
              out=tmp / "model", track=False)
        rows = cohort.head(args.rows).reset_index(drop=True)
        extra = pd.DataFrame(np.arange(args.rows * args.columns).reshape(
            args.rows, args.columns).astype(str),
            columns=[f"extra_{i}" for i in range(args.columns)])
        pd.concat([rows, extra], axis=1).to_csv(tmp / "wide.csv", index=False)
        seconds, code, last = _score(tmp / "model", tmp / "wide.csv", tmp / "out.csv")
        assert code == 0, last
        header = (tmp / "out.csv").open().readline().rstrip("\n").split(",")
        kept = sum(name.startswith("extra_") for name in header)
        print(f"score, {args.rows} rows x {args.columns} pass-through columns: "
              f"{seconds:.1f} s (CLI, fresh process), {kept} columns kept")
        seconds, code, last = _score(tmp / "model", tmp / "wide.csv", tmp / "o2.csv",
                                     "--explain", "1000000000")
        print(f"score --explain 1000000000: exit {code} after {seconds:.1f} s: {last}")


if __name__ == "__main__":
    main()

"""One participant through the one interpreter, against the previous lean path.

    python -m benchmarks.interpreter [--calls 2000] [--baseline-commit 2bac977]

In one process, on the same LightGBM model (trained here on 2,000 simulated rows) and
the same records, the median time per call of:

* ``score_records`` (this version: the table validator's rules on JSON records, then the
  fitted-model protocol), as ``/predict`` runs it;
* the previous lean path (``_records.RecordScorer`` with the pydantic per-field model,
  taken from the baseline commit with ``git archive`` and imported beside this version);
* ``score_frame`` on a one-row DataFrame (the batch path).

Ratios are against the previous lean path. Medians, since the machine is noisy.
"""

from __future__ import annotations

import argparse
import importlib
import io
import json
import logging
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _previous_package(commit: str, into: Path):
    """The baseline commit's package, importable as ``eihpredict_prev``."""
    blob = subprocess.run(["git", "-C", str(ROOT), "archive", commit, "eihpredict"],
                          check=True, capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
        tar.extractall(into, filter="data")
    (into / "eihpredict").rename(into / "eihpredict_prev")
    sys.path.insert(0, str(into))
    return importlib.import_module("eihpredict_prev._records"), importlib.import_module(
        "eihpredict_prev.schema")


def _median_ms(func, calls: int) -> float:
    for _ in range(50):
        func()
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def main() -> None:
    import pandas as pd

    from eihpredict.cohort_io import write_table
    from eihpredict.config import load_config
    from eihpredict.scoring import score_frame, score_records
    from eihpredict.simulate import simulate_cohort
    from eihpredict.training import train

    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--baseline-commit", default="2bac977")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        write_table(simulate_cohort(2000, seed=1).frame, tmp / "train.csv")
        model = train(load_config(ROOT / "benchmarks" / "lightgbm_only.yaml"),
                      tmp / "train.csv", out=tmp / "model", track=False).final.model
        rows = simulate_cohort(200, seed=5).frame.drop(columns=["eih_ppt_pre_kpa",
                                                                "eih_ppt_post_kpa"])
        records = [{k: v for k, v in r.items() if v is not None}
                   for r in json.loads(rows.to_json(orient="records"))]
        previous, previous_schema = _previous_package(args.baseline_commit, tmp / "prev")
        Participant = previous_schema.participant_model()
        scorer = previous.record_scorer(model)
        frames = [pd.DataFrame([r]).reindex(columns=rows.columns) for r in records]
        state = {"i": 0}

        def nxt() -> int:
            state["i"] = (state["i"] + 1) % len(records)
            return state["i"]

        def old_lean(explain: int = 0) -> None:
            clean = [Participant(**records[nxt()]).model_dump()]
            assert not scorer.check(clean)
            scorer.score(clean, explain)

        results = {
            "score_records (this version)": _median_ms(
                lambda: score_records(model, [records[nxt()]]), args.calls),
            "previous lean path (baseline)": _median_ms(old_lean, args.calls),
            "score_frame, one-row frame": _median_ms(
                lambda: score_frame(model, frames[nxt()]), args.calls // 4),
            "score_records, explain=3": _median_ms(
                lambda: score_records(model, [records[nxt()]], explain=3), args.calls),
            "previous lean path, explain=3": _median_ms(lambda: old_lean(3), args.calls),
        }
    base = results["previous lean path (baseline)"]
    print(f"one participant per call, median of {args.calls} calls, in process "
          f"(baseline: commit {args.baseline_commit})")
    print("| path | median ms | vs previous lean path |")
    print("|---|---|---|")
    for name, ms in results.items():
        print(f"| {name} | {ms:.3f} | {ms / base:.2f}x |")


if __name__ == "__main__":
    main()

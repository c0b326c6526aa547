"""Held-out accuracy of the default pipeline vs the oracle, FLAML and untuned LightGBM.

    python -m benchmarks.training [--train 1000] [--test 20000] [--seeds 1 2]

For the simulator's ``default`` and ``realistic`` scenarios: train on 1,000 rows, score
20,000 unseen rows from the same generating process, all in one run:

* oracle: the simulator's exact probabilities (Bayes-optimal);
* eihpredict: ``pipelines/default.yaml`` (nested CV, tuning, calibration), no tracking;
* FLAML AutoML on the raw contract columns, given eihpredict's wall-clock time;
* LightGBM with default settings on the raw contract columns.

Targets: eihpredict within 0.02 AUROC of the oracle, ahead of FLAML, calibration slope
0.8-1.2. Needs the bench extra (``pip install -e .[bench]``) for FLAML.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

import pandas as pd

from eihpredict.cohort_io import write_table
from eihpredict.config import load_config
from eihpredict.labels import make_labels
from eihpredict.modeling import calibration_slope_intercept, point_metrics
from eihpredict.schema import OUTCOME_COLUMNS
from eihpredict.scoring import score_frame
from eihpredict.simulate import simulate_cohort
from eihpredict.training import train
from eihpredict.validation import validate_frame

ROOT = Path(__file__).resolve().parents[1]


def raw_columns(frame: pd.DataFrame) -> pd.DataFrame:
    typed = validate_frame(frame).frame
    drop = [*OUTCOME_COLUMNS, "participant_id", "site"]
    return typed.drop(columns=[c for c in drop if c in typed])


def evaluate(y, p) -> dict[str, float]:
    m = point_metrics(y, p, 0.5)
    slope, _ = calibration_slope_intercept(y, p)
    return {"auroc": m["auroc"], "brier": m["brier"], "slope": slope}


def run(scenario: str, seed: int, n_train: int, n_test: int) -> list[dict]:
    train_cohort = simulate_cohort(n_train, seed=seed, scenario=scenario)
    test_cohort = simulate_cohort(n_test, seed=10_000 + seed, scenario=scenario)
    y_test = make_labels(test_cohort.frame).to_numpy()
    rows = [{"scenario": scenario, "seed": seed, "method": "oracle (Bayes-optimal)",
             "seconds": 0.0, **evaluate(y_test, test_cohort.p_impaired)}]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "train.csv"
        write_table(train_cohort.frame, path)
        start = time.perf_counter()
        result = train(load_config(ROOT / "pipelines" / "default.yaml"), path,
                       out=Path(tmp) / "model", track=False)
        budget = time.perf_counter() - start
    p = score_frame(result.final.model, test_cohort.frame).scored["p_impaired_eih"].to_numpy()
    rows.append({"scenario": scenario, "seed": seed, "method": "eihpredict default.yaml",
                 "seconds": budget, **evaluate(y_test, p)})
    X_train, X_test = raw_columns(train_cohort.frame), raw_columns(test_cohort.frame)
    y_train = make_labels(train_cohort.frame).to_numpy()
    try:
        from flaml import AutoML

        automl = AutoML()
        start = time.perf_counter()
        automl.fit(X_train, y_train, task="classification", metric="roc_auc",
                   time_budget=budget, seed=seed, verbose=0)
        p = automl.predict_proba(X_test)[:, 1]
        rows.append({"scenario": scenario, "seed": seed, "method": "FLAML (same budget)",
                     "seconds": time.perf_counter() - start, **evaluate(y_test, p)})
    except ImportError:
        print("FLAML is not installed: pip install -e .[bench]")
    from lightgbm import LGBMClassifier

    start = time.perf_counter()
    model = LGBMClassifier(verbose=-1, random_state=seed).fit(X_train, y_train)
    p = model.predict_proba(X_test)[:, 1]
    rows.append({"scenario": scenario, "seed": seed, "method": "LightGBM untuned",
                 "seconds": time.perf_counter() - start, **evaluate(y_test, p)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--train", type=int, default=1000)
    parser.add_argument("--test", type=int, default=20000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    rows = []
    for scenario in ("default", "realistic"):
        for seed in args.seeds:
            rows += run(scenario, seed, args.train, args.test)
    table = pd.DataFrame(rows)
    summary = table.groupby(["scenario", "method"], sort=False)[
        ["auroc", "brier", "slope", "seconds"]].median()
    oracle = table[table["method"].str.startswith("oracle")].groupby("scenario")["auroc"].median()
    summary["auroc_gap_to_oracle"] = summary["auroc"] - oracle.reindex(
        summary.index.get_level_values(0)).to_numpy()
    print(f"train {args.train} rows, test {args.test} unseen rows, medians over seeds "
          f"{args.seeds}")
    print("| scenario | method | AUROC | gap to oracle | Brier | calibration slope | seconds |")
    print("|---|---|---|---|---|---|---|")
    for (scenario, method), r in summary.iterrows():
        print(f"| {scenario} | {method} | {r.auroc:.3f} | {r.auroc_gap_to_oracle:+.3f} | "
              f"{r.brier:.3f} | {r.slope:.2f} | {r.seconds:.0f} |")
    print("\nper seed:")
    print(table.round(3).to_string(index=False))


if __name__ == "__main__":
    main()

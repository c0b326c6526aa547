"""The default pipelines on fresh cohorts: the continuous model's predictive distribution
against the binary model, and the binary model against the oracle.

    python -m benchmarks.distribution [--scenarios default realistic] [--seeds 9001 9002]
        [--train 1000] [--test 20000] [--trials N] [--outer-folds K] [--repeats R]
        [--interval-methods location_scale conformal] [--binary/--no-binary]
        [--selection-rules one_se best]

Per scenario and seed: a development cohort of ``--train`` rows
(``simulate_cohort(train, seed)``) and ``--test`` unseen rows
(``simulate_cohort(test, 500_000 + seed)``); seeds 9001 and up were never used while
the models were developed. ``pipelines/continuous.yaml`` and ``pipelines/default.yaml``
are trained with :func:`eihpredict.training.train` (nested CV, tuning, selection, refit;
no tracking), ``--trials`` / ``--outer-folds`` / ``--repeats`` override their budget
(the figures in docs/predictive-distribution.md say which). On the unseen rows
(outcomes removed, scored through the fitted-model protocol):

* ``auroc_continuous``: AUROC of the continuous model's ``p_impaired_eih`` for impaired
  EIH (post <= pre, i.e. change <= 0);
* ``auroc_binary``: the binary default's, on the same event; ``difference`` the first
  minus the second (goal: >= -0.005);
* ``coverage``: share of changes inside the 80 % interval (goal 0.77-0.83), and per
  pain population ``coverage_<population>`` (goal 0.75-0.85) and its mean width (kPa);
* the binary default's ``gap_to_oracle`` (oracle AUROC minus its AUROC; goal <= 0.02)
  and calibration ``slope`` (goal 0.8-1.2), once per ``--selection-rules`` (suffixed
  ``_best`` for the second: the candidate with the best outer-CV log loss).

``--interval-methods`` with no value skips the continuous model.

Then the median, min and max over seeds per scenario.
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def _budget(args) -> tuple[dict, dict]:
    out: dict = {}
    if args.trials is not None:
        out["n_trials"] = args.trials
    cv = {k: v for k, v in (("outer_folds", args.outer_folds), ("repeats", args.repeats))
          if v is not None}
    return out, cv


def _train(pipeline: str, frame, folder: Path, args, **overrides):
    from eihpredict.cohort_io import write_table
    from eihpredict.config import load_config
    from eihpredict.training import train

    tuning, cv = _budget(args)
    base = load_config(ROOT / "pipelines" / pipeline)
    if cv:
        overrides["cv"] = {**base.cv.model_dump(), **cv}
    config = load_config(ROOT / "pipelines" / pipeline, **tuning, **overrides)
    path = folder / f"{pipeline}.csv"
    write_table(frame, path)
    start = time.perf_counter()
    result = train(config, path, out=folder / pipeline.replace(".yaml", ""), track=False)
    return result, time.perf_counter() - start


def run(scenario: str, seed: int, args) -> dict:
    from sklearn.metrics import roc_auc_score

    from eihpredict.labels import make_labels
    from eihpredict.modeling import calibration_slope_intercept
    from eihpredict.schema import OUTCOME_COLUMNS
    from eihpredict.simulate import simulate_cohort
    from eihpredict.validation import validate_frame

    train_cohort = simulate_cohort(args.train, seed=seed, scenario=scenario)
    test_cohort = simulate_cohort(args.test, seed=500_000 + seed, scenario=scenario)
    test = validate_frame(test_cohort.frame).frame
    change = (test["eih_ppt_post_kpa"] - test["eih_ppt_pre_kpa"]).to_numpy()
    event = (change <= 0).astype(int)
    population = test["population"].astype(str).to_numpy()
    row: dict = {"scenario": scenario, "seed": seed}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for method in args.interval_methods:
            result, seconds = _train("continuous.yaml", train_cohort.frame, folder, args,
                                     continuous={"interval_method": method})
            model = result.final.model
            # The continuous model keeps the pre-exercise PPT (its covariate) as input.
            inputs = test.drop(columns=[c for c in OUTCOME_COLUMNS
                                        if c in test and c != "eih_ppt_pre_kpa"])
            o = model.predict(model.batch(inputs))
            inside = (change >= o["change_pi_low"]) & (change <= o["change_pi_high"])
            width = o["change_pi_high"] - o["change_pi_low"]
            tag = "" if method == args.interval_methods[0] else f"_{method}"
            row[f"chosen_continuous{tag}"] = result.chosen
            row[f"auroc_continuous{tag}"] = float(roc_auc_score(event, o["p_impaired_eih"]))
            row[f"coverage{tag}"] = float(inside.mean())
            for name in sorted(set(population)):
                rows = population == name
                row[f"coverage{tag}_{name}"] = float(inside[rows].mean())
                row[f"width{tag}_{name}"] = float(width[rows].mean())
            row[f"seconds_continuous{tag}"] = seconds
        for rule in (args.selection_rules if args.binary else []):
            result, seconds = _train("default.yaml", train_cohort.frame, folder, args,
                                     selection_rule=rule)
            model = result.final.model
            inputs = test.drop(columns=[c for c in OUTCOME_COLUMNS if c in test])
            p = np.clip(model.predict_proba(inputs), 1e-12, 1 - 1e-12)
            y = make_labels(test).to_numpy()
            tag = "" if rule == args.selection_rules[0] else f"_{rule}"
            row[f"chosen_binary{tag}"] = result.chosen
            row[f"auroc_binary{tag}"] = float(roc_auc_score(y, p))
            row["auroc_oracle"] = float(roc_auc_score(y, test_cohort.p_impaired))
            row[f"gap_to_oracle{tag}"] = row["auroc_oracle"] - row[f"auroc_binary{tag}"]
            row[f"slope{tag}"] = float(calibration_slope_intercept(y, p)[0])
            row[f"seconds_binary{tag}"] = seconds
            if "auroc_continuous" in row and not tag:
                row["difference"] = row["auroc_continuous"] - row["auroc_binary"]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", nargs="+", default=["default", "realistic"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[9001, 9002, 9003])
    parser.add_argument("--train", type=int, default=1000)
    parser.add_argument("--test", type=int, default=20_000)
    parser.add_argument("--trials", type=int, default=None)
    parser.add_argument("--outer-folds", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--interval-methods", nargs="*", default=["location_scale"],
                        choices=["location_scale", "conformal"])
    parser.add_argument("--binary", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--selection-rules", nargs="+", default=["one_se"],
                        choices=["one_se", "best"],
                        help="the binary default trained once per rule (the first is the "
                        "one compared with the continuous model)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    rows = []
    for scenario in args.scenarios:
        for seed in args.seeds:
            row = run(scenario, seed, args)
            rows.append(row)
            print(json.dumps({k: round(v, 4) if isinstance(v, float) else v
                              for k, v in row.items()}), flush=True)
    print(f"\ntrain {args.train}, unseen {args.test}, seeds {args.seeds}, trials "
          f"{args.trials or 'as configured'}:")
    for scenario in args.scenarios:
        part = [r for r in rows if r["scenario"] == scenario]
        print(f"  {scenario}:")
        for key in [k for k, v in part[0].items() if isinstance(v, float)]:
            values = np.array([r[key] for r in part])
            print(f"    {key:<48} median {np.median(values):.4f}  min {values.min():.4f}  "
                  f"max {values.max():.4f}")


if __name__ == "__main__":
    main()

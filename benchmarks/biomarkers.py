"""Biomarker discovery against the simulator's ground truth.

    python -m benchmarks.biomarkers [--rows 1000] [--resamples 30]

For each scenario and seed: a candidate of ``pipelines/default.yaml`` (LightGBM or the
elastic net, 10 tuning trials) is fitted on the cohort, then ``discover_biomarkers``
declares groups by its conditional tests (the selector only describes); the table
counts true groups declared (recall, of the simulator's true candidate groups:
``population`` is a stratifier, never declared) and null groups declared (false
discoveries). Targets: in a strong scenario at least 5 of 7 true groups, at most 1 null
group in any run. The error-rate study is ``python -m benchmarks.discovery``.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

from eihpredict.config import load_config
from eihpredict.explain import discover_biomarkers
from eihpredict.labels import make_labels
from eihpredict.modeling import fit_candidate
from eihpredict.simulate import simulate_cohort
from eihpredict.validation import validate_frame

ROOT = Path(__file__).resolve().parents[1]
RUNS = [("default", 1, "elasticnet", "auto"), ("default", 1, "lightgbm", "auto"),
        ("default", 2, "lightgbm", "auto"), ("realistic", 1, "lightgbm", "auto"),
        ("multisite", 1, "lightgbm", "auto"), ("null", 3, "lightgbm", "auto"),
        ("default", 1, "lightgbm", "model")]
STRATIFIERS = {"population", "site"}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--resamples", type=int, default=30)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    config = load_config(ROOT / "pipelines" / "default.yaml", n_trials=10)
    print(f"{args.rows} rows per cohort, B = {args.resamples} resamples")
    print("| scenario | seed | model | selector | true groups declared | null groups declared "
          "| seconds |")
    print("|---|---|---|---|---|---|---|")
    for scenario, seed, name, selector in RUNS:
        cohort = simulate_cohort(args.rows, seed=seed, scenario=scenario)
        X = validate_frame(cohort.frame).frame
        y = make_labels(X).to_numpy()
        model = fit_candidate(config.candidate(name), config, X, y, seed=1).model
        start = time.perf_counter()
        report = discover_biomarkers(model, X, y, resamples=args.resamples, n_jobs=2,
                                     selector=selector)
        seconds = time.perf_counter() - start
        declared = set(report.declared_groups)
        true = set(cohort.truth["true_groups"]) - STRATIFIERS
        null = set(cohort.truth["null_groups"]) - STRATIFIERS
        true_text = f"{len(declared & true)} of {len(true)}" if true else "-"
        false = sorted(declared & null)
        print(f"| {scenario} | {seed} | {name} | {selector} | {true_text} | "
              f"{len(false)} of {len(null)}"
              f"{' (' + ', '.join(false) + ')' if false else ''} | {seconds:.0f} |")


if __name__ == "__main__":
    main()

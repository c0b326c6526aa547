"""Per-population coverage of a continuous model's 80 % interval under each stratum rule,
on the full pipeline's residuals, over many cohorts.

    python -m benchmarks.stratum_rules [--scenarios heteroscedastic realistic]
        [--first-seed 9001] [--cohorts 15] [--train 1000] [--test 20000]

Per scenario and cohort: ``pipelines/continuous.yaml``'s elastic-net candidate (fixed
``C = 0.05, l1_ratio = 0.5``, no tuning, so the rules are compared on the same mean
model) fitted on ``--train`` simulated rows by :func:`eihpredict.modeling.fit_candidate`;
its out-of-fold residuals give the scale model (the project's, unchanged) and then
three distributions of the standardised residuals:

* ``eb_scale``: the default, empirical-Bayes stratum spread factors by population;
* ``mixture200``: the previous release's rule, each population's own conformal
  distribution mixed with the pooled one with weight ``n / (n + 200)``;
* ``pooled``: no stratum.

Each is scored on ``--test`` unseen rows: overall coverage, the lowest and highest
population coverage, and ``miss`` = some population outside 0.75-0.85. Reported: per
scenario and rule, the cohorts missed (with a 95 % Wilson interval), the median lowest
coverage and the mean worst distance from 0.80.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RULES = ("eb_scale", "mixture200", "pooled")


def run(scenario: str, seed: int, args) -> dict[str, dict[str, float]]:
    from eihpredict.config import load_config
    from eihpredict.labels import make_labels
    from eihpredict.modeling import (
        ColumnBatch,
        LocationScaleDistribution,
        PipelineScorer,
        fit_candidate,
    )
    from eihpredict.modeling._tasks import _fit_scale
    from eihpredict.schema import OUTCOME_COLUMNS
    from eihpredict.simulate import simulate_cohort
    from eihpredict.validation import validate_frame

    config = load_config(ROOT / "pipelines" / "continuous.yaml")
    candidate = next(c for c in config.models if c.name == "elasticnet")
    groups = config.groups_for(candidate)
    keep = [c for c in OUTCOME_COLUMNS if c != "eih_ppt_pre_kpa"]
    train = validate_frame(simulate_cohort(args.train, seed=seed, scenario=scenario).frame).frame
    test = validate_frame(simulate_cohort(args.test, seed=500_000 + seed,
                                          scenario=scenario).frame).frame
    y = make_labels(train, config.label).to_numpy().astype(float)
    X = train.drop(columns=[c for c in keep if c in train])
    fitted = fit_candidate(candidate, config, X, y, seed=seed,
                           params={"C": 0.05, "l1_ratio": 0.5})
    residuals = y - fitted.raw_oof
    scale, log_scale, _ = _fit_scale(config, X, residuals, groups, seed, None)
    standardised = residuals / np.exp(log_scale)
    strata = X["population"].to_numpy(dtype=object)
    rows = test.drop(columns=[c for c in keep if c in test])
    mu = fitted.model.predict(fitted.model.batch(rows))["predicted_change_kpa"]
    scorer = PipelineScorer(scale)
    spread = np.exp(scorer.raw_score(ColumnBatch.from_frame(rows, scorer.input_columns)))
    change = (test["eih_ppt_post_kpa"] - test["eih_ppt_pre_kpa"]).to_numpy()
    population = test["population"].astype(str).to_numpy()
    test_strata = rows["population"].to_numpy(dtype=object)
    out = {}
    for rule in RULES:
        dist = (LocationScaleDistribution(0.8, "population") if rule == "eb_scale" else
                LocationScaleDistribution(0.8, "population", prior_rows=200.0)
                if rule == "mixture200" else LocationScaleDistribution(0.8, None))
        dist.fit(standardised, None if rule == "pooled" else strata)
        low, high = dist.bounds(test_strata, len(mu))
        inside = (change >= mu + spread * low) & (change <= mu + spread * high)
        coverage = [float(inside[population == p].mean()) for p in np.unique(population)]
        out[rule] = {"overall": float(inside.mean()), "lowest": min(coverage),
                     "highest": max(coverage),
                     "worst": max(abs(c - 0.8) for c in coverage),
                     "miss": float(min(coverage) < 0.75 or max(coverage) > 0.85)}
    return out


def main() -> None:
    from eihpredict.modeling._stats import wilson_interval

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", nargs="+", default=["heteroscedastic", "realistic"])
    parser.add_argument("--first-seed", type=int, default=9001)
    parser.add_argument("--cohorts", type=int, default=15)
    parser.add_argument("--train", type=int, default=1000)
    parser.add_argument("--test", type=int, default=20_000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    for scenario in args.scenarios:
        results = []
        for seed in range(args.first_seed, args.first_seed + args.cohorts):
            results.append(run(scenario, seed, args))
            print(f"{scenario} {seed}: " + "  ".join(
                f"{rule} {r['lowest']:.3f}-{r['highest']:.3f}" for rule, r in
                results[-1].items()), flush=True)
        print(f"  {scenario}, {args.cohorts} cohorts of {args.train} rows, "
              f"{args.test} unseen rows each:")
        for rule in RULES:
            missed = int(sum(r[rule]["miss"] for r in results))
            low, high = wilson_interval(missed, len(results))
            print(f"    {rule:<11} missed {missed}/{len(results)} ({low:.2f}-{high:.2f}); "
                  f"median lowest {np.median([r[rule]['lowest'] for r in results]):.3f}; "
                  f"mean worst |coverage - 0.8| "
                  f"{np.mean([r[rule]['worst'] for r in results]):.3f}; median overall "
                  f"{np.median([r[rule]['overall'] for r in results]):.3f}", flush=True)


if __name__ == "__main__":
    main()

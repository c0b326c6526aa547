"""CPM by pain ratings against CPM by PPT: the same participants, the same latent CPM.

    python -m benchmarks.rating_cpm [--kind logistic] [--seeds 0 1 2 3 4] [--train 800]
                                    [--test 4000] [--trials 6] [--scenario realistic]
                                    [--rating-error 4]

Per seed: a simulated development cohort (``simulate_cohort(train, seed, scenario,
extras=["cpm_rating"])``) and an independent held-out cohort (seed ``10000 + seed``).
Both CPM forms are drawn from the same latent CPM efficiency (the rating form: a 0-100
rating of a test stimulus before and during conditioning, SD 4 points of error per
rating, whole numbers; ``eihpredict/simulate.py``, "Extra measures"). On the
development cohort, :func:`~eihpredict.modeling.fit_candidate` (nested tuning,
calibration) fits

* the PPT model: groups ``cpm`` + the other default groups; the rating columns removed;
* the rating model: groups ``cpm_rating`` + the same others; the PPT CPM columns
  (``cpm_test_before_kpa``, ``cpm_test_after_kpa``) blank;

and reports the held-out AUROC for impaired EIH (default rule) of each, their
difference (rating - PPT) and the AUROC of the truth's exact probability (the oracle).
Then the mean, SD, min and max over seeds. The claim checked: the rating model reaches
within 0.02 AUROC of the PPT model. ``--rating-error`` sets the simulated error of one
rating (SD, points of 100; the simulator's default 4) to see how the gap grows.
"""

from __future__ import annotations

import argparse
import json
import logging

import numpy as np

from benchmarks._util import print_mean_sd

OTHERS = ["ts", "pcs", "tsk", "hads", "ppt", "exercise", "sex", "population", "age"]
PPT_CPM = ("cpm_test_before_kpa", "cpm_test_after_kpa")
RATING_CPM = ("cpm_test_before_rating", "cpm_test_after_rating", "cpm_rating_scale",
              "cpm_test_stimulus")


def _config(form: str, kind: str, trials: int, seed: int):
    from eihpredict.config import PipelineConfig

    space = ({"learning_rate": {"type": "float", "low": 0.01, "high": 0.1, "log": True},
              "num_leaves": {"type": "int", "low": 2, "high": 8}} if kind == "lightgbm" else
             {"C": {"type": "float", "low": 0.01, "high": 5.0, "log": True}})
    return PipelineConfig.model_validate({
        "name": f"rating-cpm-{form}", "seed": seed,
        "features": {"groups": [form, *OTHERS]},
        "models": [{"name": kind, "kind": kind, "search_space": space}],
        "tuning": {"n_trials": trials, "inner_folds": 3},
        "cv": {"outer_folds": 3, "n_jobs": 1}})


def _inputs(frame, form: str):
    from eihpredict.schema import OUTCOME_COLUMNS

    frame = frame.drop(columns=[c for c in OUTCOME_COLUMNS if c in frame])
    if form == "cpm":
        return frame.drop(columns=list(RATING_CPM))
    return frame.assign(**dict.fromkeys(PPT_CPM, np.nan))  # PPT CPM columns blank


def run_seed(kind: str, seed: int, n_train: int, n_test: int, trials: int,
             scenario: str) -> dict:
    from sklearn.metrics import roc_auc_score

    from eihpredict.labels import make_labels
    from eihpredict.modeling import fit_candidate
    from eihpredict.simulate import simulate_cohort

    train = simulate_cohort(n_train, seed=seed, scenario=scenario, extras=["cpm_rating"])
    test = simulate_cohort(n_test, seed=10_000 + seed, scenario=scenario,
                           extras=["cpm_rating"])
    out: dict = {"seed": seed, "kind": kind, "scenario": scenario}
    for form in ("cpm", "cpm_rating"):
        config = _config(form, kind, trials, seed)
        y = make_labels(train.frame, config.label).to_numpy()
        model = fit_candidate(config.models[0], config, _inputs(train.frame, form), y,
                              seed=seed).model
        p = model.predict(model.batch(_inputs(test.frame, form)))["p_impaired_eih"]
        y_test = make_labels(test.frame, config.label).to_numpy()
        out[f"auroc_{'ppt' if form == 'cpm' else 'rating'}"] = float(roc_auc_score(y_test, p))
    out["auroc_rating_minus_ppt"] = out["auroc_rating"] - out["auroc_ppt"]
    out["auroc_oracle"] = float(roc_auc_score(y_test, test.p_impaired))
    cpm = test.frame
    ppt_pct = 100 * (cpm["cpm_test_after_kpa"] / cpm["cpm_test_before_kpa"] - 1)
    rating_pct = 100 * (1 - cpm["cpm_test_after_rating"] / cpm["cpm_test_before_rating"])
    out["corr_rating_ppt_pct"] = float(np.corrcoef(ppt_pct, rating_pct)[0, 1])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", default="logistic", choices=["logistic", "lightgbm"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--train", type=int, default=800)
    parser.add_argument("--test", type=int, default=4000)
    parser.add_argument("--trials", type=int, default=6)
    parser.add_argument("--scenario", default="realistic")
    parser.add_argument("--rating-error", type=float, default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.rating_error is not None:
        from eihpredict import simulate

        simulate.RATING_ERROR_SD = args.rating_error
    rows = []
    for seed in args.seeds:
        row = run_seed(args.kind, seed, args.train, args.test, args.trials, args.scenario)
        rows.append(row)
        print(json.dumps({k: round(v, 4) if isinstance(v, float) else v
                          for k, v in row.items()}), flush=True)
    from eihpredict import simulate

    print(f"\n{args.kind}, {args.scenario}, {len(rows)} seed(s), train {args.train}, "
          f"held-out {args.test}, rating error SD {simulate.RATING_ERROR_SD:g}:")
    print_mean_sd(rows, ("seed", "kind", "scenario"), 28)


if __name__ == "__main__":
    main()

"""A continuous model of the PPT change against the binary model, on held-out rows.

    python -m benchmarks.continuous [--kind logistic] [--seeds 0 1 2] [--train 600]
                                    [--test 3000] [--trials 6]

Per seed: a simulated development cohort (``simulate_cohort(train, seed)``) and an
independent held-out cohort (``simulate_cohort(test, 10000 + seed)``). On the
development cohort, :func:`~eihpredict.modeling.fit_candidate` fits

* the continuous model (``label: {rule: continuous, threshold_kpa: 0}``) adjusted for
  the pre-exercise PPT (ANCOVA), and the same without the covariate;
* the binary model of the same event (``label: {rule: absolute, threshold_kpa: 0}``).

On the held-out rows it reports the share of observed changes inside the 80 %
prediction interval (``coverage``; also the adjusted model scored without the
covariate, i.e. its fallback), R2 of the predicted change, and the AUROC for impaired
EIH (``change <= 0``) of the derived ``p_impaired_eih`` and of the binary model's
probability. Then the mean, SD, min and max over seeds.

The coverage of one seed varies: with ``n`` out-of-fold residuals the coverage given
the development cohort has SD about ``sqrt(0.8 * 0.2 / n)`` (0.016 at n = 600), plus
the held-out sampling SD (0.007 at 3,000 rows) and the spread of the refitted model.
"""

from __future__ import annotations

import argparse
import json
import logging

import numpy as np

from benchmarks._util import print_mean_sd

GROUPS = ["cpm", "ts", "pcs", "tsk", "hads", "ppt", "exercise", "sex", "population", "age"]


def _config(rule: str, kind: str, trials: int, seed: int, **extra):
    from eihpredict.config import PipelineConfig

    space = ({"learning_rate": {"type": "float", "low": 0.01, "high": 0.1, "log": True},
              "num_leaves": {"type": "int", "low": 2, "high": 8}} if kind == "lightgbm" else
             {"C": {"type": "float", "low": 0.01, "high": 5.0, "log": True}})
    data = {"name": "benchmark", "seed": seed, "label": {"rule": rule, "threshold_kpa": 0.0},
            "features": {"groups": GROUPS},
            "models": [{"name": kind, "kind": kind, "search_space": space}],
            "tuning": {"n_trials": trials, "inner_folds": 3},
            "cv": {"outer_folds": 3, "n_jobs": 1}, **extra}
    if rule == "continuous":
        data["selection_metric"] = "rmse"
        data["tuning"]["metric"] = "mse"
    return PipelineConfig.model_validate(data)


def _fit_and_score(config, train, test, seed: int, keep: tuple[str, ...]):
    from eihpredict.labels import make_labels
    from eihpredict.modeling import fit_candidate
    from eihpredict.schema import OUTCOME_COLUMNS

    def inputs(frame):
        return frame.drop(columns=[c for c in OUTCOME_COLUMNS if c in frame and c not in keep])

    y = make_labels(train, config.label).to_numpy()
    model = fit_candidate(config.models[0], config, inputs(train), y, seed=seed).model
    held_out = inputs(test)
    return model, held_out, model.predict(model.batch(held_out))


def _auroc(y, p) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, p))


def run_seed(kind: str, seed: int, n_train: int, n_test: int, trials: int) -> dict:
    from eihpredict.labels import make_labels
    from eihpredict.simulate import simulate_cohort

    train = simulate_cohort(n_train, seed=seed).frame
    test = simulate_cohort(n_test, seed=10_000 + seed).frame
    out: dict = {"seed": seed, "kind": kind}
    change = None
    for adjust in (True, False):
        config = _config("continuous", kind, trials, seed,
                         continuous={"adjust_for_pre": adjust})
        keep = ("eih_ppt_pre_kpa",) if adjust else ()
        model, held_out, o = _fit_and_score(config, train, test, seed, keep)
        change = make_labels(test, config.label).to_numpy()
        tag = "adjusted" if adjust else "unadjusted"
        out[f"coverage_{tag}"] = float(np.mean((change >= o["change_pi_low"])
                                               & (change <= o["change_pi_high"])))
        out[f"r2_{tag}"] = float(1 - np.mean((change - o["predicted_change_kpa"]) ** 2)
                                 / np.var(change))
        out[f"auroc_p_{tag}"] = _auroc((change <= 0).astype(int), o["p_impaired_eih"])
        if adjust:
            bare = held_out.drop(columns=["eih_ppt_pre_kpa"])
            fallback = model.predict(model.batch(bare))
            out["coverage_adjusted_scored_without_pre"] = float(np.mean(
                (change >= fallback["change_pi_low"]) & (change <= fallback["change_pi_high"])))
    binary = _config("absolute", kind, trials, seed)
    _, _, o = _fit_and_score(binary, train, test, seed, ())
    out["auroc_binary"] = _auroc(make_labels(test, binary.label).to_numpy(), o["p_impaired_eih"])
    out["auroc_p_minus_binary"] = out["auroc_p_adjusted"] - out["auroc_binary"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", default="logistic", choices=["logistic", "lightgbm"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--train", type=int, default=600)
    parser.add_argument("--test", type=int, default=3000)
    parser.add_argument("--trials", type=int, default=6)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    rows = []
    for seed in args.seeds:
        row = run_seed(args.kind, seed, args.train, args.test, args.trials)
        rows.append(row)
        print(json.dumps({k: round(v, 4) if isinstance(v, float) else v
                          for k, v in row.items()}), flush=True)
    print(f"\n{args.kind}, {len(rows)} seed(s), train {args.train}, held-out {args.test}:")
    print_mean_sd(rows, ("seed", "kind"), 40)


if __name__ == "__main__":
    main()

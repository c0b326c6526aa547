"""Where the binary default loses AUROC against the Bayes oracle: misspecification of
the linear features against estimation noise.

    python -m benchmarks.oracle_gap [--scenarios default realistic] [--seeds 9101 9102 9103]
                                    [--train 1000] [--large 40000] [--test 20000]

A penalised logistic regression (``LogisticRegressionCV``, 5 folds, log loss) on the
toolkit's linear features (imputed, standardised, missing-value indicators) is fitted

* on every default feature group (``all``) and on the simulator's true groups only
  (``true``);
* with three terms of the simulator's generating model the linear features lack
  (``+terms``: CPM x female, a hinge in temporal summation, PCS total >= 30, the
  clinical cut-off);

on ``--train`` rows per seed (medians over seeds) and once on ``--large`` rows (almost
no estimation noise: what remains is misspecification). Each is scored on ``--test``
unseen rows against the oracle's AUROC (the simulator's exact probabilities).
"""

from __future__ import annotations

import argparse
import logging
import warnings

import numpy as np

ALL = ["cpm", "ts", "pcs", "tsk", "hads", "ppt", "exercise", "sex", "population", "age",
       "bmi", "pain", "physical_activity"]
TRUE = ["cpm", "ts", "pcs", "hads", "ppt", "exercise", "sex", "population"]


def _terms(frame, names, matrix) -> np.ndarray:
    female = (frame["sex"].astype(str) == "female").to_numpy(dtype=float)
    cpm = matrix[:, names.index("cpm_pct")]
    ts = matrix[:, names.index("ts_diff")]
    items = [c for c in frame.columns if c.startswith("pcs_") and c[4:].isdigit()]
    pcs = frame[items].astype(float).sum(axis=1, min_count=len(items)).to_numpy()
    return np.column_stack([cpm * female, np.maximum(ts - 0.5, 0.0),
                            np.nan_to_num(pcs) >= 30])


def gaps(scenario: str, seed: int, n_train: int, n_test: int) -> dict[str, float]:
    from sklearn.linear_model import LogisticRegressionCV
    from sklearn.metrics import roc_auc_score

    from eihpredict.features import build_feature_pipeline
    from eihpredict.labels import make_labels
    from eihpredict.simulate import simulate_cohort
    from eihpredict.validation import validate_frame

    train = simulate_cohort(n_train, seed=seed, scenario=scenario)
    test = simulate_cohort(n_test, seed=500_000 + seed, scenario=scenario)
    f_train, f_test = validate_frame(train.frame).frame, validate_frame(test.frame).frame
    y_train, y_test = make_labels(f_train).to_numpy(), make_labels(f_test).to_numpy()
    oracle = roc_auc_score(y_test, test.p_impaired)
    out = {}
    for label, groups, terms in (("all", ALL, False), ("true", TRUE, False),
                                 ("all+terms", ALL, True)):
        features = build_feature_pipeline(groups, model_kind="linear").fit(f_train, y_train)
        names = list(features.get_feature_names_out())
        a = np.asarray(features.transform(f_train), dtype=float)
        b = np.asarray(features.transform(f_test), dtype=float)
        if terms:
            a = np.column_stack([a, _terms(f_train, names, a)])
            b = np.column_stack([b, _terms(f_test, names, b)])
        model = LogisticRegressionCV(Cs=np.logspace(-3, 1, 12), cv=5, scoring="neg_log_loss",
                                     max_iter=5000).fit(a, y_train)
        out[label] = oracle - roc_auc_score(y_test, model.predict_proba(b)[:, 1])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", nargs="+", default=["default", "realistic"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[9101, 9102, 9103])
    parser.add_argument("--train", type=int, default=1000)
    parser.add_argument("--large", type=int, default=40_000)
    parser.add_argument("--test", type=int, default=20_000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    warnings.filterwarnings("ignore", category=FutureWarning)
    print("| scenario | rows | AUROC gap to oracle: all groups | true groups only | "
          "all + 3 terms |")
    print("|---|---|---|---|---|")
    for scenario in args.scenarios:
        rows = [gaps(scenario, seed, args.train, args.test) for seed in args.seeds]
        median = {k: float(np.median([r[k] for r in rows])) for k in rows[0]}
        print(f"| {scenario} | {args.train} (median of {len(rows)}) | {median['all']:.4f} | "
              f"{median['true']:.4f} | {median['all+terms']:.4f} |", flush=True)
        large = gaps(scenario, args.seeds[0], args.large, args.test)
        print(f"| {scenario} | {args.large} | {large['all']:.4f} | {large['true']:.4f} | "
              f"{large['all+terms']:.4f} |", flush=True)


if __name__ == "__main__":
    main()

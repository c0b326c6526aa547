"""The ordinal (proportional-odds) candidate against the multinomial one, three classes.

    python -m benchmarks.ordinal [--scenarios default realistic] [--seeds 9201 9202 9203]
                                 [--train 1000] [--test 20000] [--trials 6]

Per scenario and seed: ``pipelines/three_class.yaml``'s ``elasticnet`` (multinomial)
and ``ordinal`` candidates, each tuned, calibrated and refitted by
:func:`eihpredict.modeling.fit_candidate` on ``--train`` simulated rows (``--trials``
Optuna trials), scored on ``--test`` unseen rows: multinomial log loss and the mean
one-vs-rest AUROC of the calibrated class probabilities; medians over seeds.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def run(scenario: str, seed: int, args) -> dict[str, float]:
    from sklearn.metrics import log_loss, roc_auc_score

    from eihpredict.config import load_config
    from eihpredict.labels import make_labels
    from eihpredict.modeling import fit_candidate
    from eihpredict.schema import OUTCOME_COLUMNS
    from eihpredict.simulate import simulate_cohort
    from eihpredict.validation import validate_frame

    config = load_config(ROOT / "pipelines" / "three_class.yaml", n_trials=args.trials,
                         seed=seed)
    train = validate_frame(simulate_cohort(args.train, seed=seed, scenario=scenario).frame).frame
    test = validate_frame(simulate_cohort(args.test, seed=500_000 + seed,
                                          scenario=scenario).frame).frame
    y, y_test = (make_labels(f, config.label).to_numpy() for f in (train, test))

    def inputs(frame):
        return frame.drop(columns=[c for c in OUTCOME_COLUMNS if c in frame])

    out = {}
    for name in ("elasticnet", "ordinal"):
        model = fit_candidate(config.candidate(name), config, inputs(train), y,
                              seed=seed).model
        P = model.predict_proba(inputs(test))
        out[f"log_loss_{name}"] = float(log_loss(y_test, P, labels=[0, 1, 2]))
        out[f"auroc_macro_{name}"] = float(np.mean(
            [roc_auc_score((y_test == k).astype(int), P[:, k]) for k in range(3)]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", nargs="+", default=["default", "realistic"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[9201, 9202, 9203])
    parser.add_argument("--train", type=int, default=1000)
    parser.add_argument("--test", type=int, default=20_000)
    parser.add_argument("--trials", type=int, default=6)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    print("| scenario | log loss multinomial | log loss ordinal | macro AUROC multinomial "
          "| macro AUROC ordinal |")
    print("|---|---|---|---|---|")
    for scenario in args.scenarios:
        rows = [run(scenario, seed, args) for seed in args.seeds]
        m = {k: float(np.median([r[k] for r in rows])) for k in rows[0]}
        print(f"| {scenario} | {m['log_loss_elasticnet']:.4f} | {m['log_loss_ordinal']:.4f} "
              f"| {m['auroc_macro_elasticnet']:.4f} | {m['auroc_macro_ordinal']:.4f} |",
              flush=True)


if __name__ == "__main__":
    main()

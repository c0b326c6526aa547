"""Simulation study of the per-patient exercise prescription (issue 23).

    python -m benchmarks.prescribe [--cohorts 3] [--n 300] [--sessions 3]
                                   [--bootstrap 100] [--null-cohorts 200] [--json FILE]

Per cohort seed: a randomised crossover cohort (``simulate_crossover(n, seed,
sessions=3)``, heterogeneous effects) is trained with ``pipelines/crossover.yaml``
(the bootstrap refits set by ``--bootstrap``; a smaller outer CV to save time: it does
not enter the prescription), then ``prescribe`` is run for ``n`` *new* participants
from the same generating model (seed + 10000), whose true P(impaired EIH) under every
option is in the truth (``p_impaired_by_option``). Measured:

(a) among new participants whose true best option beats the second best by more than
    0.10, the share whose rank-1 option is the true best (goal >= 80 %);
(b) the share of (participant, option) pairs whose 95 % interval [p_low, p_high] holds
    the true probability (goal 93-97 %);
(c) on ``--null-cohorts`` cohorts without heterogeneity (``heterogeneity=False``), the
    share where the heterogeneity test is positive at 5 % (goal <= 5 %), with a
    Clopper-Pearson 95 % interval; and its power on 50 heterogeneous cohorts.
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def _config(bootstrap: int, seed: int):
    from eihpredict.config import PipelineConfig, load_config

    data = load_config(ROOT / "pipelines" / "crossover.yaml").model_dump()
    data.update({"seed": seed, "cv": {**data["cv"], "outer_folds": 3, "bootstrap": 50},
                 "prescription": {"bootstrap": bootstrap}})
    return PipelineConfig.model_validate(data)


def _clopper_pearson(k: int, n: int) -> tuple[float, float]:
    from scipy.stats import beta

    low = 0.0 if k == 0 else float(beta.ppf(0.025, k, n - k + 1))
    high = 1.0 if k == n else float(beta.ppf(0.975, k + 1, n - k))
    return low, high


def one_cohort(seed: int, n: int, sessions: int, bootstrap: int) -> dict:
    from eihpredict.model_dir import load_model_dir
    from eihpredict.prescribe import prescribe
    from eihpredict.simulate import simulate_crossover
    from eihpredict.training import train

    start = time.perf_counter()
    cohort = simulate_crossover(n, seed=seed, sessions=sessions)
    new = simulate_crossover(n, seed=seed + 10000, sessions=2)
    patients = new.frame.drop_duplicates("participant_id").drop(
        columns=["session_id", "exercise_modality", "exercise_intensity_pct",
                 "exercise_duration_min", "eih_ppt_pre_kpa", "eih_ppt_post_kpa"])
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "cohort.csv"
        cohort.frame.to_csv(data, index=False)
        train(_config(bootstrap, seed), data, out=Path(tmp) / "model", track=False)
        result = prescribe(load_model_dir(Path(tmp) / "model"), patients)
    table = result.table
    truth = new.truth["p_impaired_by_option"]
    table["truth"] = [truth[p][o] for p, o in zip(table["participant_id"], table["option"],
                                                  strict=True)]
    table["covered"] = (table["p_low"] <= table["truth"]) & (table["truth"] <= table["p_high"])
    true = pd.DataFrame(truth).T
    ordered = np.sort(true.to_numpy(), axis=1)
    gap = pd.Series(ordered[:, 1] - ordered[:, 0], index=true.index)
    true_best = true.idxmin(axis=1)
    chosen = table[table["rank"] == 1].set_index("participant_id")["option"]
    clear = gap[gap > 0.10].index
    return {
        "seed": seed,
        "n_clear": int(len(clear)),
        "n_clear_correct": int((chosen.loc[clear] == true_best.loc[clear]).sum()),
        "n_all_correct": int((chosen == true_best.loc[chosen.index]).sum()),
        "n_participants": int(len(chosen)),
        "n_pairs": int(len(table)),
        "n_covered": int(table["covered"].sum()),
        "mean_width": float((table["p_high"] - table["p_low"]).mean()),
        "mean_abs_error": float((table["p_impaired_eih"] - table["truth"]).abs().mean()),
        "heterogeneity_p": (result.heterogeneity or {}).get("p_value"),
        "seconds": round(time.perf_counter() - start, 1),
    }


def false_positives(n_cohorts: int, n: int, sessions: int, heterogeneity: bool,
                    first_seed: int) -> tuple[int, int]:
    from eihpredict.modeling import heterogeneity_test
    from eihpredict.simulate import simulate_crossover

    positive = 0
    for seed in range(first_seed, first_seed + n_cohorts):
        cohort = simulate_crossover(n, seed=seed, sessions=sessions,
                                    heterogeneity=heterogeneity)
        frame = cohort.frame
        y = (frame["eih_ppt_post_kpa"] <= frame["eih_ppt_pre_kpa"]).to_numpy(int)
        positive += heterogeneity_test(frame, y).p_value < 0.05
    return int(positive), n_cohorts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cohorts", type=int, default=3)
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--sessions", type=int, default=3)
    parser.add_argument("--bootstrap", type=int, default=100)
    parser.add_argument("--null-cohorts", type=int, default=200)
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    fp, n_null = false_positives(args.null_cohorts, args.n, args.sessions, False, 50_000)
    power, n_het = false_positives(min(50, args.null_cohorts), args.n, args.sessions, True,
                                   60_000)
    low, high = _clopper_pearson(fp, n_null)
    print(f"(c) heterogeneity test, {n_null} cohorts without heterogeneity "
          f"({args.n} x {args.sessions}): positive in {fp} = {fp / n_null:.1%} "
          f"(95 % CI {low:.1%}-{high:.1%}; nominal 5 %); power on {n_het} heterogeneous "
          f"cohorts: {power / n_het:.0%}", flush=True)

    rows = []
    for seed in range(args.first_seed, args.first_seed + args.cohorts):
        rows.append(one_cohort(seed, args.n, args.sessions, args.bootstrap))
        print(json.dumps(rows[-1]), flush=True)
    if not rows:  # --cohorts 0: the heterogeneity test's study only
        return
    runs = pd.DataFrame(rows)
    clear, correct = int(runs["n_clear"].sum()), int(runs["n_clear_correct"].sum())
    pairs, covered = int(runs["n_pairs"].sum()), int(runs["n_covered"].sum())
    a_low, a_high = _clopper_pearson(correct, clear)
    b_low, b_high = _clopper_pearson(covered, pairs)
    print(f"(a) chosen = true best among participants with a true difference > 0.10: "
          f"{correct}/{clear} = {correct / clear:.1%} (95 % CI {a_low:.1%}-{a_high:.1%}; "
          f"goal >= 80 %); all participants: "
          f"{runs['n_all_correct'].sum()}/{runs['n_participants'].sum()}")
    print(f"(b) 95 % intervals of p_impaired_eih holding the true probability: "
          f"{covered}/{pairs} = {covered / pairs:.1%} (95 % CI {b_low:.1%}-{b_high:.1%}; "
          f"goal 93-97 %); mean width {runs['mean_width'].mean():.3f}, mean |error| "
          f"{runs['mean_abs_error'].mean():.3f}")
    if args.json is not None:
        args.json.write_text(json.dumps({
            "args": {k: str(v) for k, v in vars(args).items()}, "cohorts": rows,
            "a": {"correct": correct, "clear": clear},
            "b": {"covered": covered, "pairs": pairs},
            "c": {"positive": fp, "cohorts": n_null, "power": power, "power_cohorts": n_het},
        }, indent=2))


if __name__ == "__main__":
    main()

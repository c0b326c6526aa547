"""Feature pipeline throughput vs a hand-written vectorised pandas computation.

    python -m benchmarks.features [--rows 1000000]

Both compute the same features (questionnaire totals and subscales with pro-rating,
CPM, TS, PPT z-scores, exercise dose, one-hot categories) from the same typed
1,000,000-row simulated cohort. Target: the pipeline at most 1.5x the baseline's time.
Prints median seconds of 3 runs, rows/s and the ratio; checks the numbers agree.
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from benchmarks._util import median_seconds
from eihpredict.features import SCALES, build_feature_pipeline
from eihpredict.schema import COLUMN_BY_NAME, QUESTIONNAIRES
from eihpredict.simulate import simulate_cohort
from eihpredict.validation import validate_frame


def by_hand(f: pd.DataFrame) -> pd.DataFrame:
    """The same features, written directly in pandas (the baseline)."""
    out = {}
    before, after = f["cpm_test_before_kpa"], f["cpm_test_after_kpa"]
    out["cpm_abs"] = after - before
    out["cpm_pct"] = 100 * (after - before) / before
    for col in ("cpm_paradigm", "cpm_conditioning"):
        for c in COLUMN_BY_NAME[col].categories:
            out[f"{col}_{c}"] = (f[col] == c).astype("float64").where(f[col].notna())
    out["ts_diff"] = f["ts_last_nrs"] - f["ts_first_nrs"]
    out["ts_wur_log"] = np.log10((f["ts_series_nrs"] + 0.1) / (f["ts_single_nrs"] + 0.1))
    for col, (male, female) in {"ppt_local_kpa": (560, 440), "ppt_remote_kpa": (427, 305)}.items():
        stem = col.removesuffix("_kpa")
        ref = f["sex"].map({"male": male, "female": female}).astype("float64")
        out[f"{stem}_log"] = np.log(f[col])
        out[f"{stem}_z"] = (np.log(f[col]) - np.log(ref) + 0.38**2 / 2) / 0.38
    for c in COLUMN_BY_NAME["exercise_modality"].categories:
        out[f"exercise_modality_{c}"] = (f["exercise_modality"] == c).astype("float64")
    out["exercise_intensity_pct"] = f["exercise_intensity_pct"]
    out["exercise_duration_min"] = f["exercise_duration_min"]
    out["exercise_dose"] = f["exercise_intensity_pct"] / 100 * f["exercise_duration_min"]
    for name, (q, items, _) in SCALES.items():
        quest = QUESTIONNAIRES[q]
        block = f[[quest.item(i) for i in items]].copy()
        for i in items:
            if i in quest.reverse:
                block[quest.item(i)] = quest.reverse_constant - block[quest.item(i)]
        allowed = int(np.floor(0.2 * len(items)))
        out[name] = (block.mean(axis=1) * len(items)).where(
            block.isna().sum(axis=1) <= allowed)
    out["sex_female"] = (f["sex"] == "female").astype("float64")
    for c in COLUMN_BY_NAME["population"].categories:
        out[f"population_{c}"] = (f["population"] == c).astype("float64")
    out["population_chronic_pain"] = 1 - out["population_healthy"]
    for col in ("age_years", "bmi_kg_m2", "pain_duration_months", "pain_intensity_nrs",
                "physical_activity_met_min_week"):
        out[col] = f[col]
    out["pain_duration_log1p"] = np.log1p(f["pain_duration_months"])
    return pd.DataFrame(out)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    frame = validate_frame(simulate_cohort(args.rows, seed=0).frame).frame
    pipeline = build_feature_pipeline().fit(frame.head(1000))
    ours = pipeline.transform(frame)
    hand = by_hand(frame)[ours.columns]
    np.testing.assert_allclose(ours.to_numpy(), hand.to_numpy(), rtol=1e-9, equal_nan=True)
    t_pipe = median_seconds(lambda: pipeline.transform(frame))
    t_hand = median_seconds(lambda: by_hand(frame))
    print(f"rows: {args.rows:,}; features: {ours.shape[1]} (identical values checked)")
    print("| path | median s | rows/s |")
    print("|---|---|---|")
    print(f"| hand-written pandas (baseline) | {t_hand:.2f} | {args.rows / t_hand:,.0f} |")
    print(f"| eihpredict feature pipeline | {t_pipe:.2f} | {args.rows / t_pipe:,.0f} |")
    print(f"ratio pipeline / baseline: {t_pipe / t_hand:.2f}x (target <= 1.5x)")


if __name__ == "__main__":
    main()

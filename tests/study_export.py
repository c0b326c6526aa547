"""A REDCap-style study export built from a simulated cohort, with its mapping and the
contract table it must map back to (shared by the mapping, validate and docs tests)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from eihpredict.schema import TSK11_ITEMS

KG = 98.0665  # kPa per kg/cm2, by the definition of the kilogram-force

MAPPING = {
    "format": 1,
    "study": "REDCap export, knee OA isometric protocol",
    "columns": {
        "participant_id": "record_id",
        "sex": {"from": "gender", "codes": {1: "female", 2: "male"}},
        "age_years": "age",
        "population": {"from": "group", "codes": {"oa": "knee_osteoarthritis",
                                                  "ctrl": "healthy"}},
        "ppt_local_kpa": {"average": ["ppt_l_t1_kg", "ppt_l_t2_kg"], "unit": "kg/cm2"},
        "ppt_remote_kpa": {"average": ["ppt_r_t1_kg", "ppt_r_t2_kg"], "unit": "kg/cm2"},
        "eih_ppt_pre_kpa": {"average": ["ppt_pre_t1_kg", "ppt_pre_t2_kg"], "unit": "kg/cm2"},
        "eih_ppt_post_kpa": {"average": ["ppt_post_t1_kg", "ppt_post_t2_kg"],
                             "unit": "kg/cm2"},
        "tsk11_total": "tsk_11",
        "pcs_total": "pcs_sum",
        "hads_anxiety": {"from": "hads_a", "missing": [99]},
    },
    "constants": {"exercise_modality": "isometric"},
    "drop": ["redcap_event_name"],
}


def redcap_export(frame: pd.DataFrame, *, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The study's export of ``frame`` and the contract table the mapping must give.

    Sex coded 1/2 (float once a cell is blank), PPTs as two trials in kg/cm2 whose mean
    is the simulated value, the TSK-11 total in a column named ``tsk_11`` (which the
    contract reads as TSK item 11), HADS anxiety with 99 for "not asked".
    """
    rng = np.random.default_rng(seed)
    n = len(frame)
    export = pd.DataFrame({"record_id": np.arange(1, n + 1),
                           "redcap_event_name": "baseline_arm_1"})
    export["gender"] = frame["sex"].map({"female": 1.0, "male": 2.0}).astype("float64")
    export["age"] = frame["age_years"]
    export["group"] = np.where(frame["population"] == "healthy", "ctrl", "oa")
    for prefix, column in (("ppt_l", "ppt_local_kpa"), ("ppt_r", "ppt_remote_kpa"),
                           ("ppt_pre", "eih_ppt_pre_kpa"), ("ppt_post", "eih_ppt_post_kpa")):
        kg = frame[column].to_numpy(dtype="float64") / KG
        spread = rng.normal(0.0, 0.15, n)
        export[f"{prefix}_t1_kg"] = kg + spread
        export[f"{prefix}_t2_kg"] = kg - spread
    items = frame[[f"tsk_{i:02d}" for i in TSK11_ITEMS]].astype("float64")
    export["tsk_11"] = items.sum(axis=1, skipna=False)
    export["pcs_sum"] = frame[[f"pcs_{i:02d}" for i in range(1, 14)]].astype(
        "float64").sum(axis=1, skipna=False)
    anxiety = frame[[f"hads_{i:02d}" for i in range(1, 15, 2)]].astype("float64").sum(
        axis=1, skipna=False)
    export["hads_a"] = anxiety.fillna(99.0)
    export["visit_notes"] = "ok"

    expected = pd.DataFrame({
        "participant_id": export["record_id"].astype(str),
        "sex": frame["sex"].to_numpy(),
        "age_years": frame["age_years"].to_numpy(),
        "population": np.where(frame["population"] == "healthy", "healthy",
                               "knee_osteoarthritis"),
        "ppt_local_kpa": frame["ppt_local_kpa"].to_numpy(),
        "ppt_remote_kpa": frame["ppt_remote_kpa"].to_numpy(),
        "eih_ppt_pre_kpa": frame["eih_ppt_pre_kpa"].to_numpy(),
        "eih_ppt_post_kpa": frame["eih_ppt_post_kpa"].to_numpy(),
        "tsk11_total": export["tsk_11"].to_numpy(),
        "pcs_total": export["pcs_sum"].to_numpy(),
        "hads_anxiety": anxiety.to_numpy(),
        "exercise_modality": "isometric",
    })
    return export, expected

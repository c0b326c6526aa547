"""The service's numbers equal batch scoring's, bit for bit."""

from __future__ import annotations

import numpy as np
import pandas as pd

from eihpredict.scoring import score_frame


def test_service_probabilities_equal_score_frame(make_client, records, loaded, cohort_csv):
    client = make_client()
    served = []
    for start in range(0, len(records), 100):
        body = client.post("/predict", json={"participants": records[start:start + 100]}).json()
        served += [p["p_impaired_eih"] for p in body["predictions"]]
    batch = score_frame(loaded.model, pd.read_csv(cohort_csv)).scored["p_impaired_eih"]
    np.testing.assert_array_equal(np.array(served), batch.to_numpy())


def test_ensemble_records_equal_score_frame(small_cohort, quick_config, records):
    from eihpredict.labels import make_labels
    from eihpredict.modeling import fit_candidate
    from eihpredict.scoring import score_records
    from eihpredict.validation import validate_frame

    X = validate_frame(small_cohort.frame).frame
    model = fit_candidate(quick_config.candidate("ensemble"), quick_config, X,
                          make_labels(X).to_numpy(), seed=0).model
    clean = [{k: v for k, v in r.items() if v is not None} for r in records[:80]]
    served = score_records(model, clean, explain=3)
    batch = score_frame(model, pd.DataFrame(records[:80]), explain=3).scored
    np.testing.assert_array_equal(served.outputs["p_impaired_eih"],
                                  batch["p_impaired_eih"].to_numpy())
    for i in (1, 2, 3):
        assert [e[i - 1]["feature"] for e in served.explanations] == batch[f"feature_{i}"].tolist()
        np.testing.assert_array_equal([e[i - 1]["contribution"] for e in served.explanations],
                                      batch[f"contribution_{i}"])


def test_top_k_ties_are_broken_the_same_way_everywhere(loaded, records):
    """With few non-zero contributions and K larger, the zero-valued features are ties:
    both paths list them in the model's feature order (one documented tie-break)."""
    from eihpredict.scoring import score_records

    model = loaded.model
    k = 8
    sparse = [{"participant_id": f"s{i}", "sex": "female", "cpm_test_before_kpa": 300 + i,
               "cpm_test_after_kpa": 320 + i} for i in range(20)]
    served = score_records(model, sparse, explain=k)
    batch = score_frame(model, pd.DataFrame(sparse).reindex(
        columns=["participant_id", "sex", *model.input_columns]).loc[
        :, lambda d: ~d.columns.duplicated()], explain=k).scored
    for i in range(1, k + 1):
        assert [e[i - 1]["feature"] for e in served.explanations] == batch[f"feature_{i}"].tolist()
    names = model.feature_names
    for row in served.explanations:  # equal |contribution| keep the feature order
        for a, b in zip(row, row[1:], strict=False):
            if abs(a["contribution"]) == abs(b["contribution"]):
                assert names.index(a["feature"]) < names.index(b["feature"])

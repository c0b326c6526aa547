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


def test_ensemble_lean_path_equals_score_frame(small_cohort, quick_config, records):
    from eihpredict._records import record_scorer
    from eihpredict.labels import make_labels
    from eihpredict.modeling._nested import fit_candidate
    from eihpredict.schema import participant_model
    from eihpredict.validation import validate_frame

    X = validate_frame(small_cohort.frame).frame
    model = fit_candidate(quick_config.candidate("ensemble"), quick_config, X,
                          make_labels(X).to_numpy(), seed=0).model
    assert model.kind == "ensemble"
    Participant = participant_model()
    clean = [Participant(**{k: v for k, v in r.items() if v is not None}).model_dump()
             for r in records[:80]]
    lean, explained = record_scorer(model).score(clean, explain=3)
    batch = score_frame(model, pd.DataFrame(records[:80]), explain=3).scored
    np.testing.assert_array_equal(lean, batch["p_impaired_eih"].to_numpy())
    assert [e[0]["feature"] for e in explained] == batch["feature_1"].tolist()
    np.testing.assert_allclose([e[0]["contribution"] for e in explained],
                               batch["contribution_1"], atol=1e-12)

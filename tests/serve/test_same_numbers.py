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

"""Freeze features, model numbers and simulated frames from main's code (run once on main
before the instrument registry: ``python tests/data/make_instrument_baseline.py OUT.npz``);
``tests/test_instruments.py`` compares the registry's numbers with them."""

from __future__ import annotations

import hashlib
import sys


def baseline() -> dict:
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    from eihpredict.features import build_feature_pipeline
    from eihpredict.simulate import simulate_cohort

    out = {}
    for scenario, seed in (("default", 7), ("multisite", 3)):
        frame = simulate_cohort(160, seed=seed, scenario=scenario).frame
        digest = hashlib.sha256(frame.to_csv(index=False).encode()).hexdigest()
        out[f"{scenario}_frame_sha256"] = np.array(digest)
        for kind in ("tree", "linear"):
            features = build_feature_pipeline(model_kind=kind).fit_transform(frame)
            out[f"{scenario}_{kind}_names"] = np.array(list(features.columns))
            out[f"{scenario}_{kind}_values"] = features.to_numpy(dtype="float64")
        y = (frame["eih_ppt_post_kpa"] <= frame["eih_ppt_pre_kpa"]).to_numpy()
        X = build_feature_pipeline(model_kind="linear").fit_transform(frame)
        logistic = LogisticRegression(max_iter=1000).fit(X, y)
        out[f"{scenario}_logistic_p"] = logistic.predict_proba(X)[:, 1]
    return out


if __name__ == "__main__":
    import numpy as np

    np.savez_compressed(sys.argv[1], **baseline())

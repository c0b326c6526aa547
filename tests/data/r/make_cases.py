"""Write the deterministic prediction cases that reference.R reads (tests/data/r/*.csv).

Run from the repository root: ``python tests/data/r/make_cases.py``. The files are
committed; rerun only to change the cases (then rerun reference.R too). Values are
written with 17 significant digits so R reads exactly the doubles Python uses.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import expit

HERE = Path(__file__).resolve().parent


def _write(frame: pd.DataFrame, name: str) -> None:
    frame.to_csv(HERE / name, index=False, float_format="%.17g")


def main() -> None:
    rng = np.random.default_rng(20261122)

    # Binary: well calibrated, shifted and overconfident, small, tied predictions.
    lp = rng.normal(-0.4, 1.2, 500)
    y = (rng.random(500) < expit(lp)).astype(int)
    _write(pd.DataFrame({"y": y, "p": expit(lp)}), "binary_calibrated.csv")

    lp = rng.normal(0.3, 1.0, 400)
    y = (rng.random(400) < expit(lp)).astype(int)
    _write(pd.DataFrame({"y": y, "p": expit(-0.5 + 1.8 * lp)}), "binary_shifted.csv")

    lp = rng.normal(-0.2, 1.0, 40)
    y = (rng.random(40) < expit(lp)).astype(int)
    _write(pd.DataFrame({"y": y, "p": expit(0.2 + 0.8 * lp)}), "binary_small.csv")

    lp = rng.normal(-0.6, 1.3, 300)
    y = (rng.random(300) < expit(lp)).astype(int)
    p = np.clip(np.round(expit(lp), 1), 0.05, 0.95)
    _write(pd.DataFrame({"y": y, "p": p}), "binary_ties.csv")

    # Continuous: PPT change (kPa) with an 80 % prediction interval, slightly miscalibrated.
    mu = rng.normal(20, 35, 300)
    y = 5 + 0.8 * mu + rng.normal(0, 45, 300)
    half = 1.2816 * (38 + 0.15 * np.abs(mu))  # heteroscedastic interval
    _write(pd.DataFrame({"y": y, "predicted": mu, "pi_low": mu - half, "pi_high": mu + half}),
           "continuous.csv")

    # Three classes (hypoalgesia, no_change, hyperalgesia), predictions a bit too extreme.
    n = 450
    x = rng.normal(0, 1, (n, 2))
    eta = np.column_stack([np.zeros(n), 0.2 + 0.8 * x[:, 0], -0.6 + 0.7 * x[:, 0] - 0.9 * x[:, 1]])
    prob = np.exp(eta) / np.exp(eta).sum(axis=1, keepdims=True)
    codes = (rng.random(n)[:, None] > np.cumsum(prob, axis=1)).sum(axis=1)
    pred = np.exp(1.4 * eta) / np.exp(1.4 * eta).sum(axis=1, keepdims=True)
    classes = np.array(["hypoalgesia", "no_change", "hyperalgesia"])
    _write(pd.DataFrame({"y": classes[codes], "p_hypoalgesia": pred[:, 0],
                         "p_no_change": pred[:, 1], "p_hyperalgesia": pred[:, 2]}),
           "multiclass.csv")

    # Multi-site: eight sites with their own case mix, baseline risk and slope.
    frames = []
    for i, size in enumerate([120, 250, 90, 300, 160, 200, 80, 140]):
        lp = rng.normal(-0.3 + 0.1 * i, 1.0 + 0.05 * i, size)
        shift = rng.normal(0, 0.35)
        slope = rng.uniform(0.7, 1.2)
        y = (rng.random(size) < expit(shift + slope * lp)).astype(int)
        frames.append(pd.DataFrame({"site": f"site_{chr(65 + i)}", "y": y, "p": expit(lp)}))
    _write(pd.concat(frames, ignore_index=True), "multisite.csv")

    # Updating: an existing model lp = -1 + 0.8 x1 + 0.5 x2 - 0.4 x3 on two new samples,
    # one with only a baseline shift, one where the predictor effects differ.
    for name, beta in (("update_shift", (-0.2, 0.8, 0.5, -0.4)),
                       ("update_revised", (-0.6, 1.3, 0.0, -0.4))):
        X = rng.normal(0, 1, (500, 3))
        lp_old = -1 + X @ np.array([0.8, 0.5, -0.4])
        y = (rng.random(500) < expit(beta[0] + X @ np.array(beta[1:]))).astype(int)
        _write(pd.DataFrame({"y": y, "lp": lp_old, "x1": X[:, 0], "x2": X[:, 1],
                             "x3": X[:, 2]}), f"{name}.csv")


if __name__ == "__main__":
    main()

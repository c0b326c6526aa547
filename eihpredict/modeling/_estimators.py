"""Candidate model pipelines: features + LightGBM or logistic regression."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from ..features import build_feature_pipeline

__all__ = ["make_pipeline", "raw_log_odds", "DEFAULT_PARAMS"]

DEFAULT_PARAMS: dict[str, dict[str, Any]] = {
    "lightgbm": {"n_estimators": 200, "learning_rate": 0.05, "num_leaves": 15,
                 "min_child_samples": 20, "subsample_freq": 1, "verbose": -1, "n_jobs": 1},
    "logistic": {"C": 1.0, "l1_ratio": 0.0, "solver": "saga", "max_iter": 5000},
}


def make_pipeline(kind: str, groups: list[str], params: dict[str, Any], *, seed: int,
                  feature_options: dict | None = None) -> Pipeline:
    """A fresh (unfitted) pipeline: feature groups, then the estimator.

    Parameters
    ----------
    kind : {"lightgbm", "logistic"}
    groups : list of str
        Feature groups.
    params : dict
        Estimator hyperparameters (over :data:`DEFAULT_PARAMS`).
    seed : int
        ``random_state`` of the estimator.

    Examples
    --------
    >>> make_pipeline("logistic", ["cpm"], {"C": 0.5}, seed=0).steps[-1][1].C
    0.5
    """
    merged = {**DEFAULT_PARAMS[kind], **params}
    if kind == "lightgbm":
        from lightgbm import LGBMClassifier

        model = LGBMClassifier(random_state=seed, **merged)
        features = build_feature_pipeline(groups, model_kind="tree", options=feature_options)
    elif kind == "logistic":
        model = LogisticRegression(random_state=seed, **merged)
        features = build_feature_pipeline(groups, model_kind="linear", options=feature_options)
    else:
        raise ValueError(f"Got kind={kind!r}; expected 'lightgbm' or 'logistic'.")
    return Pipeline([*features.steps, ("model", model)])


#: Rows from which LightGBM predictions use every core (below, one thread is faster).
PARALLEL_ROWS = 2000


def lgbm_threads(n_rows: int) -> int:
    """LightGBM ``num_threads`` for a batch: 1 for small batches, 0 (all cores) for large."""
    return 1 if n_rows < PARALLEL_ROWS else 0


def raw_log_odds(pipeline: Pipeline, X) -> np.ndarray:
    """The model's raw (pre-calibration) log-odds of impaired EIH.

    LightGBM's raw score (exactly what its SHAP values add up to) or the logistic
    model's decision function.
    """
    estimator = pipeline.steps[-1][1]
    features = pipeline[:-1].transform(X)
    if hasattr(estimator, "booster_"):
        return estimator.booster_.predict(features.to_numpy(dtype="float64"), raw_score=True,
                                          num_threads=lgbm_threads(len(features)))
    if hasattr(estimator, "coef_"):
        # Row-wise sum instead of a BLAS product: the same row gets the same bits whatever
        # the batch it is scored in (BLAS blocking changes the last bit with batch size).
        data = np.ascontiguousarray(features.to_numpy(dtype="float64"))
        return (data * estimator.coef_[0]).sum(axis=1) + estimator.intercept_[0]
    raise TypeError(f"no raw log-odds for {type(estimator).__name__}; expected LightGBM or "
                    "logistic regression")

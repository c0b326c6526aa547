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


def raw_log_odds(pipeline: Pipeline, X) -> np.ndarray:
    """The model's raw (pre-calibration) log-odds of impaired EIH.

    For both LightGBM and logistic regression this is the logit of ``predict_proba``
    (LightGBM's raw score, the logistic model's decision function).
    """
    p = pipeline.predict_proba(X)[:, 1]
    p = np.clip(p, 1e-15, 1 - 1e-15)
    return np.log(p) - np.log1p(-p)

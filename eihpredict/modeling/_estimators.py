"""Candidate model pipelines: features + LightGBM or logistic regression."""

from __future__ import annotations

from typing import Any

from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from ..features import build_feature_pipeline

__all__ = ["DEFAULT_PARAMS", "ESTIMATORS", "make_pipeline"]

DEFAULT_PARAMS: dict[str, dict[str, Any]] = {
    "lightgbm": {"n_estimators": 200, "learning_rate": 0.05, "num_leaves": 15,
                 "min_child_samples": 20, "subsample_freq": 1, "verbose": -1, "n_jobs": 1},
    "logistic": {"C": 1.0, "l1_ratio": 0.0, "solver": "saga", "max_iter": 5000},
}


def _lightgbm(params: dict[str, Any], seed: int):
    from lightgbm import LGBMClassifier

    return LGBMClassifier(random_state=seed, **params)


def _logistic(params: dict[str, Any], seed: int):
    return LogisticRegression(random_state=seed, **params)


#: Estimator family -> (estimator factory, feature pipeline flavour).
ESTIMATORS: dict[str, tuple[Any, str]] = {
    "lightgbm": (_lightgbm, "tree"),
    "logistic": (_logistic, "linear"),
}


def make_pipeline(kind: str, groups: list[str], params: dict[str, Any], *, seed: int,
                  feature_options: dict | None = None) -> Pipeline:
    """A fresh (unfitted) pipeline: feature groups, then the estimator.

    Parameters
    ----------
    kind : {"lightgbm", "logistic"}
        Estimator family (a key of :data:`ESTIMATORS`).
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
    if kind not in ESTIMATORS:
        raise ValueError(f"Got kind={kind!r}; expected one of {', '.join(ESTIMATORS)}.")
    factory, flavour = ESTIMATORS[kind]
    model = factory({**DEFAULT_PARAMS[kind], **params}, seed)
    features = build_feature_pipeline(groups, model_kind=flavour, options=feature_options)
    return Pipeline([*features.steps, ("model", model)])

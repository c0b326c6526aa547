"""Candidate model pipelines: features + a LightGBM or a penalised linear estimator.

A candidate's ``kind`` names a family; the task (from the label rule) picks the
estimator inside it:

- ``lightgbm``: ``LGBMClassifier`` (binary; three classes: multiclass softmax) or
  ``LGBMRegressor`` (continuous).
- ``logistic``: the penalised linear family, ``LogisticRegression`` (binary; three
  classes: multinomial) or :class:`PenalisedLinearRegression` (continuous).

The linear family keeps one parametrisation across tasks: ``C`` (inverse penalty per
row, as in ``LogisticRegression``) and ``l1_ratio``, so a config's search space means
the same whatever the label rule.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.linear_model import ElasticNet, LogisticRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted, validate_data

from ..features import build_feature_pipeline

__all__ = ["DEFAULT_PARAMS", "ESTIMATORS", "PenalisedLinearRegression", "make_pipeline"]

TASKS = ("binary", "continuous", "three_class")

DEFAULT_PARAMS: dict[str, dict[str, Any]] = {
    "lightgbm": {"n_estimators": 200, "learning_rate": 0.05, "num_leaves": 15,
                 "min_child_samples": 20, "subsample_freq": 1, "verbose": -1, "n_jobs": 1},
    "logistic": {"C": 1.0, "l1_ratio": 0.0, "solver": "saga", "max_iter": 5000},
}


class PenalisedLinearRegression(RegressorMixin, BaseEstimator):
    """Elastic-net linear regression parametrised like ``LogisticRegression``.

    The outcome is standardised, the penalty is ``alpha = 1 / (C * n)`` on it (the
    weight ``LogisticRegression`` gives its penalty against the summed loss), and the
    coefficients are scaled back to the outcome's units. ``l1_ratio = 0`` is ridge
    regression (closed form), otherwise ``ElasticNet`` (coordinate descent).

    Parameters
    ----------
    C : float, default=1.0
        Inverse penalty strength (> 0).
    l1_ratio : float, default=0.0
        Share of the L1 penalty, 0 to 1.
    max_iter : int, default=5000
    tol : float, default=1e-4
    solver : str, default="auto"
        Accepted for configs written for ``LogisticRegression`` (e.g. ``saga``); the
        solver is ridge's closed form or coordinate descent.
    random_state : int, RandomState or None
        Coordinate descent order (``ElasticNet(selection="cyclic")`` ignores it).

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,)
    intercept_ : float

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(400, 2)); y = 30 * X[:, 0] + rng.normal(0, 5, 400)
    >>> est = PenalisedLinearRegression(C=100).fit(X, y)
    >>> round(float(est.coef_[0]))
    30
    """

    def __init__(self, C=1.0, l1_ratio=0.0, max_iter=5000, tol=1e-4, solver="auto",
                 random_state=None):
        self.C = C
        self.l1_ratio = l1_ratio
        self.max_iter = max_iter
        self.tol = tol
        self.solver = solver
        self.random_state = random_state

    def fit(self, X, y):
        """Fit on standardised ``y``; returns ``self``."""
        if not (np.isfinite(self.C) and self.C > 0):
            raise ValueError(f"Got C={self.C!r}; expected a positive number.")
        if not 0 <= self.l1_ratio <= 1:
            raise ValueError(f"Got l1_ratio={self.l1_ratio!r}; expected a number in [0, 1].")
        X, y = validate_data(self, X, y, dtype="float64", y_numeric=True)
        n = len(y)
        centre = float(np.mean(y))
        scale = float(np.std(y)) or 1.0
        z = (y - centre) / scale
        alpha = 1.0 / (self.C * n)
        if self.l1_ratio == 0:
            model = Ridge(alpha=alpha * n).fit(X, z)  # ridge: ||z - Xw||^2 + n alpha ||w||^2
        else:
            model = ElasticNet(alpha=alpha, l1_ratio=self.l1_ratio, max_iter=self.max_iter,
                               tol=self.tol).fit(X, z)
        self.coef_ = np.asarray(model.coef_, dtype="float64") * scale
        self.intercept_ = float(model.intercept_) * scale + centre
        return self

    def predict(self, X):
        check_is_fitted(self, "coef_")
        X = validate_data(self, X, dtype="float64", reset=False)
        return X @ self.coef_ + self.intercept_


def _lightgbm(task: str, params: dict[str, Any], seed: int):
    from lightgbm import LGBMClassifier, LGBMRegressor

    cls = LGBMRegressor if task == "continuous" else LGBMClassifier
    return cls(random_state=seed, **params)


def _linear(task: str, params: dict[str, Any], seed: int):
    if task == "continuous":
        return PenalisedLinearRegression(random_state=seed, **params)
    return LogisticRegression(random_state=seed, **params)


#: Estimator family -> (estimator factory ``(task, params, seed)``, feature flavour).
ESTIMATORS: dict[str, tuple[Any, str]] = {
    "lightgbm": (_lightgbm, "tree"),
    "logistic": (_linear, "linear"),
}


def make_pipeline(kind: str, groups: list[str], params: dict[str, Any], *, seed: int,
                  feature_options: dict | None = None, task: str = "binary",
                  covariates: tuple[str, ...] = ()) -> Pipeline:
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
    feature_options : dict, optional
        Per-group transformer options.
    task : {"binary", "continuous", "three_class"}
        Picks the estimator within the family (see the module docstring).
    covariates : tuple of str
        Contract columns added to the features unchanged (the pre-exercise PPT of an
        ANCOVA-style continuous model).

    Examples
    --------
    >>> make_pipeline("logistic", ["cpm"], {"C": 0.5}, seed=0).steps[-1][1].C
    0.5
    >>> type(make_pipeline("logistic", ["cpm"], {}, seed=0, task="continuous").steps[-1][1])
    <class 'eihpredict.modeling._estimators.PenalisedLinearRegression'>
    """
    if kind not in ESTIMATORS:
        raise ValueError(f"Got kind={kind!r}; expected one of {', '.join(ESTIMATORS)}.")
    if task not in TASKS:
        raise ValueError(f"Got task={task!r}; expected one of {', '.join(TASKS)}.")
    factory, flavour = ESTIMATORS[kind]
    model = factory(task, {**DEFAULT_PARAMS[kind], **params}, seed)
    features = build_feature_pipeline(groups, model_kind=flavour, options=feature_options,
                                      covariates=covariates)
    return Pipeline([*features.steps, ("model", model)])

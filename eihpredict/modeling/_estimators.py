"""Candidate model pipelines: features + the estimator of a registered model family.

A candidate's ``kind`` names a :class:`ModelFamily` in :data:`FAMILIES` (one declaration
each: estimator factories per role, feature flavour, protocol head, default parameters,
the packages a saved model pins); the task (from the label rule) picks the estimator
role inside it (:attr:`eihpredict.modeling.Task.estimator_role`):

- ``lightgbm``: ``LGBMClassifier`` (binary; three classes: multiclass softmax) or
  ``LGBMRegressor`` (continuous).
- ``logistic``: the penalised linear family, ``LogisticRegression`` (binary; three
  classes: multinomial) or :class:`PenalisedLinearRegression` (continuous).

The linear family keeps one parametrisation across tasks: ``C`` (inverse penalty per
row, as in ``LogisticRegression``) and ``l1_ratio``, so a config's search space means
the same whatever the label rule.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.linear_model import ElasticNet, LogisticRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted, validate_data

from ..features import build_feature_pipeline
from ._tasks import get_task

__all__ = ["DEFAULT_PARAMS", "ESTIMATORS", "FAMILIES", "ModelFamily", "PenalisedLinearRegression",
           "family_of", "get_family", "make_pipeline", "register_family", "unregister_family"]

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


@dataclass(frozen=True)
class ModelFamily:
    """One model family: everything the toolkit needs to know to fit, interpret and save
    it, declared once (see :func:`register_family`).

    Parameters
    ----------
    name : str
        The candidate ``kind`` in configs.
    classifier, regressor : callable ``(params, seed) -> estimator`` or None
        The estimator for classification tasks (binary, three classes) and for a
        continuous outcome; ``None`` when the family has none for that role.
    flavour : {"tree", "linear"}
        Feature preparation (:func:`eihpredict.features.build_feature_pipeline`'s
        ``model_kind``): trees take the raw features with NaN, linear models imputed and
        standardised ones with missing indicators.
    head : {"tree", "linear"}
        The fitted-model protocol's head that reads the fitted estimator: ``tree`` (a
        LightGBM booster: raw score and TreeSHAP), ``linear`` (``coef_`` and
        ``intercept_``: raw score and linear SHAP).
    recognises : callable ``(estimator) -> bool``
        Whether a fitted estimator belongs to the family (models saved earlier carry no
        family name inside their pipeline).
    default_params : dict
        Hyperparameters under the candidate's ``params``.
    packages : tuple of str
        Distributions a saved model directory pins for it (``requirements.txt``).
    """

    name: str
    classifier: Callable[[dict[str, Any], int], Any] | None
    regressor: Callable[[dict[str, Any], int], Any] | None
    flavour: str
    head: str
    recognises: Callable[[Any], bool]
    default_params: dict[str, Any] = field(default_factory=dict)
    packages: tuple[str, ...] = ()

    def role_for(self, task):
        """The estimator factory for ``task`` (a name or task object), or None."""
        role = get_task(task).estimator_role
        return self.regressor if role == "regressor" else self.classifier

    def estimator(self, task, params: dict[str, Any], seed: int):
        """A fresh estimator of this family for ``task`` (a name or task object)."""
        role = get_task(task).estimator_role
        factory = self.role_for(task)
        if factory is None:
            raise ValueError(f"model family {self.name!r} has no {role} (task "
                             f"{get_task(task).name})")
        return factory({**self.default_params, **params}, seed)


#: Registered model families by name (the candidate ``kind``).
FAMILIES: dict[str, ModelFamily] = {}


def register_family(family: ModelFamily) -> ModelFamily:
    """Add ``family`` to :data:`FAMILIES` (its name must be new and not ``ensemble``)."""
    if family.name in FAMILIES or family.name == "ensemble":
        raise ValueError(f"model family {family.name!r} is already registered")
    if family.flavour not in ("tree", "linear") or family.head not in ("tree", "linear"):
        raise ValueError(f"model family {family.name!r}: flavour and head are 'tree' or "
                         f"'linear', got {family.flavour!r}, {family.head!r}")
    FAMILIES[family.name] = family
    return family


def unregister_family(name: str) -> None:
    """Remove a family (tests that declare their own)."""
    FAMILIES.pop(name, None)


def get_family(name: str) -> ModelFamily:
    try:
        return FAMILIES[name]
    except KeyError:
        raise ValueError(f"Got kind={name!r}; expected one of {', '.join(FAMILIES)}.") from None


def family_of(estimator) -> ModelFamily:
    """The registered family a fitted estimator belongs to."""
    for family in FAMILIES.values():
        if family.recognises(estimator):
            return family
    raise TypeError(f"no registered model family recognises {type(estimator).__name__}")


def _lgbm_classifier(params, seed):
    from lightgbm import LGBMClassifier

    return LGBMClassifier(random_state=seed, **params)


def _lgbm_regressor(params, seed):
    from lightgbm import LGBMRegressor

    return LGBMRegressor(random_state=seed, **params)


register_family(ModelFamily(
    name="lightgbm", classifier=_lgbm_classifier, regressor=_lgbm_regressor,
    flavour="tree", head="tree", recognises=lambda e: hasattr(e, "booster_"),
    default_params={"n_estimators": 200, "learning_rate": 0.05, "num_leaves": 15,
                    "min_child_samples": 20, "subsample_freq": 1, "verbose": -1,
                    "n_jobs": 1},
    packages=("lightgbm",)))
register_family(ModelFamily(
    name="logistic",
    classifier=lambda params, seed: LogisticRegression(random_state=seed, **params),
    regressor=lambda params, seed: PenalisedLinearRegression(random_state=seed, **params),
    flavour="linear", head="linear",
    recognises=lambda e: isinstance(e, LogisticRegression | PenalisedLinearRegression),
    default_params={"C": 1.0, "l1_ratio": 0.0, "solver": "saga", "max_iter": 5000}))

#: Default hyperparameters per family (read from the registry; kept for callers).
DEFAULT_PARAMS: dict[str, dict[str, Any]] = {n: f.default_params for n, f in FAMILIES.items()}
#: Family names (kept for callers; the registry is :data:`FAMILIES`).
ESTIMATORS = FAMILIES


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
    family = get_family(kind)
    model = family.estimator(get_task(task), params, seed)
    features = build_feature_pipeline(groups, model_kind=family.flavour, options=feature_options,
                                      covariates=covariates)
    return Pipeline([*features.steps, ("model", model)])

"""Candidate model pipelines: features + the estimator of a registered model family.

A candidate's ``kind`` names a :class:`ModelFamily` in :data:`FAMILIES` (one declaration
each: estimator factories per role, feature flavour, protocol head, default parameters,
the packages a saved model pins); the task (from the label rule) picks the estimator
role inside it (:attr:`eihpredict.modeling.Task.estimator_role`):

- ``lightgbm``: ``LGBMClassifier`` (binary; three classes: multiclass softmax) or
  ``LGBMRegressor`` (continuous).
- ``logistic``: the penalised linear family, ``LogisticRegression`` (binary; three
  classes: multinomial) or :class:`PenalisedLinearRegression` (continuous).
- ``ordinal``: :class:`OrdinalLogistic`, a proportional-odds cumulative-link model
  (three classes only; the linear features).

The linear family keeps one parametrisation across tasks: ``C`` (inverse penalty per
row, as in ``LogisticRegression``) and ``l1_ratio``, so a config's search space means
the same whatever the label rule.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.linear_model import ElasticNet, LogisticRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted, validate_data

from ..features import build_feature_pipeline
from ._tasks import get_task

__all__ = ["DEFAULT_PARAMS", "ESTIMATORS", "FAMILIES", "HEADS", "ModelFamily", "OrdinalLogistic",
           "PenalisedLinearRegression", "family_of", "get_family", "log_class_probabilities",
           "make_pipeline", "register_family", "unregister_family"]

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


class OrdinalLogistic(ClassifierMixin, BaseEstimator):
    """Proportional-odds (cumulative logit) model for ordered classes ``0 < 1 < ... <
    K-1``, fitted by penalised maximum likelihood.

    ``P(y <= k | x) = expit(theta_k - x . coef_)`` for ``k < K - 1``: one coefficient
    vector for every split (a larger ``x . coef_`` moves mass to the higher classes)
    and increasing thresholds ``theta``. The penalty is ``||coef_||^2 / (2 C)`` against
    the summed negative log-likelihood, as in ``LogisticRegression`` (thresholds
    unpenalised). L-BFGS with the analytic gradient on ``theta_0`` and log gaps.

    Parameters
    ----------
    C : float, default=1.0
        Inverse penalty strength (> 0).
    max_iter : int, default=500
    tol : float, default=1e-8
        Gradient tolerance of L-BFGS.
    l1_ratio : None or 0
        Accepted so a linear-family config applies; any other value is refused (the
        penalty is L2 only).
    solver, random_state
        Accepted and ignored (L-BFGS is deterministic).

    Attributes
    ----------
    classes_ : ndarray of shape (K,)
    coef_ : ndarray of shape (n_features,)
        Effects on the latent linear predictor ``eta = x . coef_``.
    thresholds_ : ndarray of shape (K - 1,)
        Cut points ``theta`` on the latent scale.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(3000, 1)); latent = 1.5 * X[:, 0] + rng.logistic(size=3000)
    >>> y = np.digitize(latent, [-1.0, 1.0])
    >>> est = OrdinalLogistic(C=100).fit(X, y)
    >>> round(float(est.coef_[0]), 1), np.round(est.thresholds_, 1).tolist()
    (1.5, [-1.0, 1.0])
    """

    def __init__(self, C=1.0, max_iter=500, tol=1e-8, l1_ratio=None, solver=None,
                 random_state=None):
        self.C = C
        self.max_iter = max_iter
        self.tol = tol
        self.l1_ratio = l1_ratio
        self.solver = solver
        self.random_state = random_state

    def fit(self, X, y):
        """Maximise the penalised likelihood; returns ``self``."""
        from scipy.optimize import minimize
        from scipy.special import expit, log_expit

        if not (np.isfinite(self.C) and self.C > 0):
            raise ValueError(f"Got C={self.C!r}; expected a positive number.")
        if self.l1_ratio not in (None, 0, 0.0):
            raise ValueError(f"Got l1_ratio={self.l1_ratio!r}; OrdinalLogistic has an L2 "
                             "penalty only (leave l1_ratio out or 0).")
        X, y = validate_data(self, X, y, dtype="float64")
        self.classes_, codes = np.unique(y, return_inverse=True)
        K = len(self.classes_)
        if K < 3:
            raise ValueError(f"OrdinalLogistic needs at least three classes; got {K}.")
        n, p = X.shape
        counts = np.bincount(codes, minlength=K)
        cum = np.cumsum(counts)[:-1] / n
        start_theta = np.log(cum / (1 - cum))
        start = np.concatenate([np.zeros(p), [start_theta[0]],
                                np.log(np.maximum(np.diff(start_theta), 1e-3))])
        penalty = 1.0 / self.C

        def unpack(w):
            theta = w[p] + np.concatenate([[0.0], np.cumsum(np.exp(w[p + 1:]))])
            return w[:p], theta

        def objective(w):
            beta, theta = unpack(w)
            eta = X @ beta
            # cut points around each row's class: theta_{y-1} (or -inf), theta_y (or +inf)
            upper = np.where(codes < K - 1, theta[np.minimum(codes, K - 2)] - eta, np.inf)
            lower = np.where(codes > 0, theta[np.maximum(codes - 1, 0)] - eta, -np.inf)
            # log(F(u) - F(l)) = log F(u) + log(1 - exp(l - u)) + log(1 - F(l)) - ... computed
            # stably as log(expit(u) - expit(l))
            fu, fl = expit(upper), expit(lower)
            prob = np.maximum(fu - fl, 1e-300)
            with np.errstate(divide="ignore"):
                loglik = np.where(codes == 0, log_expit(upper),
                                  np.where(codes == K - 1, log_expit(-lower), np.log(prob)))
            # derivatives of log P wrt the upper and lower cut: f(u)/P and -f(l)/P
            du = np.where(codes < K - 1, fu * (1 - fu), 0.0)
            dl = np.where(codes > 0, fl * (1 - fl), 0.0)
            gu, gl = du / prob, -dl / prob
            grad_eta = -(gu + gl)
            g_beta = -(X.T @ grad_eta) + penalty * beta
            g_theta = np.zeros(K - 1)
            np.add.at(g_theta, np.minimum(codes, K - 2)[codes < K - 1], -gu[codes < K - 1])
            np.add.at(g_theta, np.maximum(codes - 1, 0)[codes > 0], -gl[codes > 0])
            # chain rule to (theta_0, log gaps): theta_k = theta_0 + sum_{j<k} exp(g_j)
            g_free = np.empty(K - 1)
            g_free[0] = g_theta.sum()
            gaps = np.exp(w[p + 1:])
            for j in range(K - 2):
                g_free[j + 1] = g_theta[j + 1:].sum() * gaps[j]
            value = -loglik.sum() + 0.5 * penalty * beta @ beta
            return value, np.concatenate([g_beta, g_free])

        result = minimize(objective, start, jac=True, method="L-BFGS-B",
                          options={"maxiter": self.max_iter, "gtol": self.tol})
        self.coef_, self.thresholds_ = unpack(result.x)
        self.n_iter_ = int(result.nit)
        return self

    def decision_function(self, X):
        """The latent linear predictor ``eta = x . coef_``, shape (n,)."""
        check_is_fitted(self, "coef_")
        X = validate_data(self, X, dtype="float64", reset=False)
        return X @ self.coef_

    def predict_log_proba(self, X):
        return log_class_probabilities(self.decision_function(X), self.thresholds_)

    def predict_proba(self, X):
        return np.exp(self.predict_log_proba(X))

    def predict(self, X):
        return self.classes_[np.argmax(self.predict_log_proba(X), axis=1)]


def log_class_probabilities(eta: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Log class probabilities (n, K) of a cumulative logit model at latent predictors
    ``eta``: ``P(y = k) = expit(theta_k - eta) - expit(theta_{k-1} - eta)``.

    Examples
    --------
    >>> np.exp(log_class_probabilities(np.array([0.0]), np.array([0.0]))).round(2).tolist()
    [[0.5, 0.5]]
    """
    from scipy.special import expit, log_expit

    eta = np.asarray(eta, dtype="float64")[:, None]
    cut = np.asarray(thresholds, dtype="float64")[None, :] - eta
    first = log_expit(cut[:, :1])
    last = log_expit(-cut[:, -1:])
    if cut.shape[1] == 1:
        return np.hstack([first, last])
    middle = np.log(np.maximum(expit(cut[:, 1:]) - expit(cut[:, :-1]), 1e-300))
    return np.hstack([first, middle, last])


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
    head : {"tree", "linear", "ordinal"}
        The fitted-model protocol's head that reads the fitted estimator: ``tree`` (a
        LightGBM booster: raw score and TreeSHAP), ``linear`` (``coef_`` and
        ``intercept_``: raw score and linear SHAP), ``ordinal`` (``coef_`` and
        ``thresholds_`` of a cumulative-link model: log class probabilities,
        contributions along the latent linear predictor).
    recognises : callable ``(estimator) -> bool``
        Whether a fitted estimator belongs to the family (models saved earlier carry no
        family name inside their pipeline).
    default_params : dict
        Hyperparameters under the candidate's ``params``.
    packages : tuple of str
        Distributions a saved model directory pins for it (``requirements.txt``).
    tasks : tuple of str or None
        The tasks it serves (None: every task its estimators fit).
    param_types : dict
        ``name -> (type, lowest, highest)`` of the hyperparameters a config may fix
        (bounds inclusive, ``None`` open), checked when the config is read so a wrong
        value is named with its file and key; other params reach the estimator as given.
    complexity : int
        Rank for the one-standard-error selection (``selection_rule: one_se``): among
        candidates whose outer-CV loss is within one standard error of the best, the
        least complex wins (linear 0, trees 1; an ensemble ranks at its members' mean).
    """

    name: str
    classifier: Callable[[dict[str, Any], int], Any] | None
    regressor: Callable[[dict[str, Any], int], Any] | None
    flavour: str
    head: str
    recognises: Callable[[Any], bool]
    default_params: dict[str, Any] = field(default_factory=dict)
    packages: tuple[str, ...] = ()
    tasks: tuple[str, ...] | None = None
    param_types: dict[str, tuple[type, float | None, float | None]] = field(
        default_factory=dict)
    complexity: int = 1

    def role_for(self, task):
        """The estimator factory for ``task`` (a name or task object), or None (also for
        a task outside :attr:`tasks`)."""
        task = get_task(task)
        if self.tasks is not None and task.name not in self.tasks:
            return None
        return self.regressor if task.estimator_role == "regressor" else self.classifier

    def estimator(self, task, params: dict[str, Any], seed: int):
        """A fresh estimator of this family for ``task`` (a name or task object)."""
        role = get_task(task).estimator_role
        factory = self.role_for(task)
        if factory is None:
            raise ValueError(f"model family {self.name!r} has no {role} (task "
                             f"{get_task(task).name})")
        return factory({**self.default_params, **params}, seed)


#: The fitted-model protocol's heads (:mod:`eihpredict.modeling._protocol`).
HEADS = ("tree", "linear", "ordinal")

#: Registered model families by name (the candidate ``kind``).
FAMILIES: dict[str, ModelFamily] = {}


def register_family(family: ModelFamily) -> ModelFamily:
    """Add ``family`` to :data:`FAMILIES` (its name must be new and not ``ensemble``)."""
    if family.name in FAMILIES or family.name == "ensemble":
        raise ValueError(f"model family {family.name!r} is already registered")
    if family.flavour not in ("tree", "linear") or family.head not in HEADS:
        raise ValueError(f"model family {family.name!r}: flavour and head are 'tree' or "
                         f"'linear' (flavour) and one of {', '.join(HEADS)} (head); got "
                         f"{family.flavour!r}, {family.head!r}")
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
    packages=("lightgbm",),
    param_types={
        "n_estimators": (int, 1, 100_000), "num_leaves": (int, 2, 131_072),
        "max_depth": (int, -1, 1_000), "min_child_samples": (int, 1, None),
        "learning_rate": (float, 1e-9, 10), "subsample": (float, 1e-9, 1),
        "colsample_bytree": (float, 1e-9, 1), "subsample_freq": (int, 0, None),
        "reg_alpha": (float, 0, None), "reg_lambda": (float, 0, None),
        "min_split_gain": (float, 0, None), "min_child_weight": (float, 0, None),
        "max_bin": (int, 2, 1_000_000), "n_jobs": (int, -1, 1_024),
        "boosting_type": (str, None, None), "verbose": (int, None, None)}))
register_family(ModelFamily(
    name="logistic",
    classifier=lambda params, seed: LogisticRegression(random_state=seed, **params),
    regressor=lambda params, seed: PenalisedLinearRegression(random_state=seed, **params),
    flavour="linear", head="linear",
    recognises=lambda e: isinstance(e, LogisticRegression | PenalisedLinearRegression),
    default_params={"C": 1.0, "l1_ratio": 0.0, "solver": "saga", "max_iter": 5000},
    param_types={
        "C": (float, 1e-12, None), "l1_ratio": (float, 0, 1),
        "max_iter": (int, 1, 10_000_000), "tol": (float, 0, None), "solver": (str, None, None),
        "fit_intercept": (bool, None, None)}, complexity=0))
register_family(ModelFamily(
    name="ordinal", classifier=lambda params, seed: OrdinalLogistic(random_state=seed,
                                                                    **params),
    regressor=None, flavour="linear", head="ordinal",
    recognises=lambda e: isinstance(e, OrdinalLogistic), default_params={"C": 1.0},
    tasks=("three_class",),
    param_types={"C": (float, 1e-12, None), "max_iter": (int, 1, 10_000_000),
                 "tol": (float, 0, None)}, complexity=0))

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

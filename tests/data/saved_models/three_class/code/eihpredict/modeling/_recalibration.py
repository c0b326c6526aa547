"""Updating an existing model for a new population: recalibration and the closed test.

Given the existing model's linear predictor ``lp`` (its log-odds, ``logit(p)``) on the
new population and the observed outcomes there (Steyerberg, *Clinical Prediction
Models*, 2nd ed., ch. 20; Van Calster et al. 2019):

- **intercept** (recalibration in the large): ``logit P = a + lp``, fitted as
  ``glm(y ~ 1, offset = lp)``; 1 parameter.
- **logistic** recalibration: ``logit P = a + b lp``, ``glm(y ~ lp)``; 2 parameters.
- **refit** (model revision): every coefficient re-estimated; fitted by the caller, who
  passes its log-likelihood and number of parameters.

:func:`closed_test` chooses among them as Vergouwe et al. (Stat Med 2017;36:4529-4539)
propose: each simpler model is tested against the refitted one by a likelihood-ratio
test, from the least extensive update upwards, and the first that is not rejected is
kept. That keeps the family-wise type I error near ``alpha`` and stops a small update
sample from buying a full refit with overfitting.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.special import expit, log_expit
from scipy.stats import chi2

from ._stats import as_binary, fit_logistic, show

__all__ = ["ClosedTest", "Recalibration", "closed_test", "recalibrate_intercept",
           "recalibrate_logistic"]

UPDATE_METHODS = ("original", "intercept", "logistic", "refit")


@dataclass(frozen=True)
class Recalibration:
    """A recalibration ``lp_new = intercept + slope * lp`` and its fit.

    Attributes
    ----------
    method : str
        ``"original"`` (0 parameters), ``"intercept"`` (1) or ``"logistic"`` (2).
    intercept, slope : float
    intercept_se, slope_se : float
        Standard errors (NaN where the parameter is fixed).
    loglik : float
        Log-likelihood on the update data.
    df : int
        Number of estimated parameters.
    n, events : int
    """

    method: str
    intercept: float
    slope: float
    intercept_se: float
    slope_se: float
    loglik: float
    df: int
    n: int
    events: int

    def transform(self, lp: ArrayLike) -> np.ndarray:
        """Updated linear predictor for the original model's ``lp``."""
        return self.intercept + self.slope * np.asarray(lp, dtype="float64")

    def predict_proba(self, lp: ArrayLike) -> np.ndarray:
        """Updated probabilities for the original model's ``lp``."""
        return expit(self.transform(lp))

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def _check(lp, y) -> tuple[np.ndarray, np.ndarray]:
    y = as_binary(y)
    lp = np.asarray(lp, dtype="float64")
    if lp.shape != y.shape:
        raise ValueError(f"Got lp with shape {lp.shape} and y with {y.shape}; expected one "
                         "linear predictor per outcome.")
    bad = ~np.isfinite(lp)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"Got lp={show(lp[i])} at row {i}; expected finite log-odds.")
    if y.sum() in (0, len(y)):
        raise ValueError("Got an update sample with only one outcome class; updating needs "
                         "events and non-events.")
    return lp, y


def _original(lp: np.ndarray, y: np.ndarray) -> Recalibration:
    ll = float(np.sum(y * log_expit(lp) + (1 - y) * log_expit(-lp)))
    return Recalibration("original", 0.0, 1.0, np.nan, np.nan, ll, 0, len(y), int(y.sum()))


def recalibrate_intercept(lp: ArrayLike, y: ArrayLike) -> Recalibration:
    """Recalibration in the large: ``glm(y ~ 1, offset = lp)``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> lp = rng.normal(-1, 1, 4000); y = (rng.random(4000) < expit(lp + 0.8)).astype(int)
    >>> round(recalibrate_intercept(lp, y).intercept, 1)
    0.8
    """
    lp, y = _check(lp, y)
    fit = fit_logistic(np.ones((len(y), 1)), y, offset=lp)
    if not fit.converged:
        raise ValueError("The intercept update did not converge (separated outcomes?).")
    return Recalibration("intercept", float(fit.coef[0]), 1.0, float(fit.se[0]), np.nan,
                         fit.loglik, 1, len(y), int(y.sum()))


def recalibrate_logistic(lp: ArrayLike, y: ArrayLike) -> Recalibration:
    """Logistic recalibration: ``glm(y ~ lp)`` (intercept and slope).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> lp = rng.normal(-1, 2, 4000); y = (rng.random(4000) < expit(0.5 * lp)).astype(int)
    >>> round(recalibrate_logistic(lp, y).slope, 1)
    0.5
    """
    lp, y = _check(lp, y)
    fit = fit_logistic(np.column_stack([np.ones(len(y)), lp]), y)
    if not fit.converged:
        raise ValueError("The logistic recalibration did not converge (separated outcomes?).")
    return Recalibration("logistic", float(fit.coef[0]), float(fit.coef[1]),
                         float(fit.se[0]), float(fit.se[1]), fit.loglik, 2, len(y),
                         int(y.sum()))


@dataclass(frozen=True)
class ClosedTest:
    """Result of :func:`closed_test`.

    Attributes
    ----------
    method : str
        Chosen update: ``"original"``, ``"intercept"``, ``"logistic"`` or ``"refit"``.
    tests : DataFrame
        One row per likelihood-ratio test performed, in order: ``model`` (tested against
        the refit), ``loglik``, ``df``, ``lr_statistic``, ``p_value``, ``rejected``.
    fits : dict of Recalibration
        ``original``, ``intercept`` and ``logistic`` fits.
    refit_loglik : float
    refit_df : int
    alpha : float
    """

    method: str
    tests: pd.DataFrame
    fits: dict[str, Recalibration] = field(repr=False)
    refit_loglik: float
    refit_df: int
    alpha: float

    @property
    def recalibration(self) -> Recalibration | None:
        """The chosen recalibration (``None`` when the refit was chosen)."""
        return self.fits.get(self.method)

    def to_dict(self) -> dict:
        return {"method": self.method, "alpha": self.alpha, "refit_loglik": self.refit_loglik,
                "refit_df": self.refit_df, "tests": self.tests.to_dict(orient="records"),
                "fits": {k: v.to_dict() for k, v in self.fits.items()}}


def closed_test(lp: ArrayLike, y: ArrayLike, refit_loglik: float, refit_df: int, *,
                alpha: float = 0.05) -> ClosedTest:
    """Vergouwe et al. (2017) closed testing procedure to choose an update method.

    1. refit versus original (``refit_df`` degrees of freedom): not rejected -> keep the
       original model;
    2. refit versus intercept update (``refit_df - 1``): not rejected -> intercept;
    3. refit versus logistic recalibration (``refit_df - 2``): not rejected -> logistic;
       rejected -> refit.

    Parameters
    ----------
    lp : array-like
        Original model's linear predictor (log-odds) on the update sample.
    y : array-like of 0/1
        Outcomes in the update sample.
    refit_loglik : float
        Log-likelihood of the refitted model on the same rows (maximum likelihood, so it
        is at least the logistic recalibration's when the refit nests it).
    refit_df : int
        Parameters estimated by the refit, intercept included (> 2).
    alpha : float, default 0.05

    Returns
    -------
    ClosedTest

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> lp = rng.normal(-1, 1, 600); y = (rng.random(600) < expit(lp + 0.7)).astype(int)
    >>> ll = recalibrate_logistic(lp, y).loglik + 1.0  # a refit with 6 parameters
    >>> closed_test(lp, y, ll, 6).method
    'intercept'
    """
    lp, y = _check(lp, y)
    if isinstance(refit_df, bool) or not isinstance(refit_df, (int, np.integer)) \
            or refit_df <= 2:
        raise ValueError(f"Got refit_df={refit_df!r}; expected an integer above 2 (the refit "
                         "must estimate more than the logistic recalibration's 2 parameters).")
    if not math.isfinite(refit_loglik) or refit_loglik > 0:
        raise ValueError(f"Got refit_loglik={refit_loglik!r}; expected a finite log-likelihood "
                         "(<= 0).")
    if not 0 < alpha < 1:
        raise ValueError(f"Got alpha={alpha!r}; expected a number between 0 and 1.")
    fits = {"original": _original(lp, y), "intercept": recalibrate_intercept(lp, y),
            "logistic": recalibrate_logistic(lp, y)}
    rows = []
    chosen = "refit"
    for name in ("original", "intercept", "logistic"):
        fit = fits[name]
        df = int(refit_df) - fit.df
        lr = max(2 * (refit_loglik - fit.loglik), 0.0)
        p = float(chi2.sf(lr, df))
        rows.append({"model": name, "loglik": fit.loglik, "df": df, "lr_statistic": lr,
                     "p_value": p, "rejected": p < alpha})
        if p >= alpha:
            chosen = name
            break
    return ClosedTest(chosen, pd.DataFrame(rows), fits, float(refit_loglik), int(refit_df),
                      alpha)

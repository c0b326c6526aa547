"""External-validation metrics with confidence intervals (binary, continuous, three-class).

Every table has the columns ``metric, estimate, ci_low, ci_high``. Definitions follow
Van Calster et al. (J Clin Epidemiol 2016;74:167-176; BMC Med 2019;17:230), Riley et al.
(BMJ 2024;384:e074820, evaluation series) and Debray et al. (BMJ 2017;356:i6460):

``auroc``                       C-statistic; DeLong interval on the AUROC scale, cut to
                                [0, 1] (as pROC's ``ci.auc(method = "delong")``).
``auprc``                       average precision (scikit-learn's definition); percentile
                                bootstrap interval (no closed form).
``brier``, ``log_loss``         means of per-row terms; t intervals.
``calibration_slope``           coefficient of ``logit(p)`` in ``glm(y ~ logit(p))``
                                (1 = ideal, < 1 = predictions too extreme); Wald interval.
``calibration_in_the_large``    intercept of ``glm(y ~ 1, offset = logit(p))`` (0 = ideal,
                                > 0 = risks under-estimated); Wald interval.
``observed_expected``           ``sum(y) / sum(p)``; interval ``exp(ln(O/E) +/- z se)``,
                                ``se = sqrt((1 - O/n) / O)`` (Debray 2017).
``sensitivity``, ``specificity`` at ``p >= threshold``; Wilson intervals.

The analytic intervals are the ones R gives for the same estimators (``rms::val.prob``,
``glm``, ``pROC``, ``prop.test``, ``t.test``); ``tests/data/r/reference.R`` computes
them and the tests compare. For intervals that reflect between-site variation, pass a
point-estimate function of this module to :func:`~eihpredict.modeling.cluster_bootstrap`
with ``clusters=site``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.special import expit, logit
from scipy.stats import t as student_t

from ._bootstrap import bootstrap_weights
from ._stats import (
    as_binary,
    as_probability,
    auroc_weighted,
    average_precision_weighted,
    delong,
    fit_logistic,
    logistic_batch,
    mean_interval,
    rcs_basis,
    rcs_knots,
    show,
    wilson_interval,
    z_value,
)

__all__ = [
    "BINARY_METRICS",
    "THREE_CLASSES",
    "binary_metrics",
    "binary_point_estimates",
    "continuous_metrics",
    "flexible_calibration_curve",
    "multiclass_metrics",
    "net_benefit_curve",
]

BINARY_METRICS = ("auroc", "auprc", "brier", "log_loss", "calibration_slope",
                  "calibration_in_the_large", "observed_expected", "sensitivity",
                  "specificity")
THREE_CLASSES = ("hypoalgesia", "no_change", "hyperalgesia")
_COLUMNS = ["metric", "estimate", "ci_low", "ci_high"]


def _frame(rows: list[tuple[str, float, float, float]]) -> pd.DataFrame:
    return pd.DataFrame([(m, float(e), float(lo), float(hi)) for m, e, lo, hi in rows],
                        columns=_COLUMNS)


def _check_binary(y, p) -> tuple[np.ndarray, np.ndarray]:
    y = as_binary(y)
    p = as_probability(p, len(y))
    if p.ndim != 1:
        raise ValueError(f"Got p with shape {p.shape}; expected one probability per row.")
    if y.sum() == 0 or y.sum() == len(y):
        raise ValueError(f"Got y with only {'non-events' if y.sum() == 0 else 'events'} "
                         f"({len(y)} rows); discrimination and calibration need both.")
    return y, p


def _check_threshold(threshold: float | None) -> None:
    if threshold is not None and not 0 < threshold < 1:
        raise ValueError(f"Got threshold={threshold!r}; expected a number between 0 and 1.")


def _wald(fit, index: int, z: float) -> tuple[float, float, float]:
    est, se = float(fit.coef[index]), float(fit.se[index])
    if not fit.converged:
        return np.nan, np.nan, np.nan
    return est, est - z * se, est + z * se


def _calibration_fits(y: np.ndarray, lp: np.ndarray):
    """glm(y ~ lp) and glm(y ~ 1, offset = lp)."""
    ones = np.ones((len(y), 1))
    return (fit_logistic(np.column_stack([ones, lp]), y),
            fit_logistic(ones, y, offset=lp))


def _oe(observed: float, expected: float, n: float, z: float) -> tuple[float, float, float]:
    oe = observed / expected
    if observed == 0:
        return oe, np.nan, np.nan
    se = math.sqrt((1 - observed / n) / observed)
    return oe, oe * math.exp(-z * se), oe * math.exp(z * se)


def binary_point_estimates(y: ArrayLike, p: ArrayLike, threshold: float | None = None, *,
                           sample_weight: ArrayLike | None = None) -> dict[str, float | np.ndarray]:
    """The binary metrics without intervals, with frequency weights.

    ``sample_weight`` may be (n,) or a (B, n) matrix of bootstrap weights, in which case
    each value is an array of length B (so :func:`cluster_bootstrap` can score many
    replicates per call with ``batch_size``). Calibration in a replicate where the
    logistic fit does not converge is NaN.

    Examples
    --------
    >>> y = np.array([0, 0, 1, 1, 0, 1]); p = np.array([.2, .3, .6, .4, .5, .9])
    >>> est = binary_point_estimates(y, p, 0.5)
    >>> round(est["auroc"], 4), round(est["sensitivity"], 4)
    (0.8889, 0.6667)
    """
    y, p = _check_binary(y, p)
    _check_threshold(threshold)
    n = len(y)
    W = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype="float64")
    one = W.ndim == 1
    W2 = np.atleast_2d(W)
    lp = logit(p)
    total, events, expected = W2.sum(axis=1), W2 @ y, W2 @ p
    loss = -(y * np.log(p) + (1 - y) * np.log1p(-p))
    start_slope = start_citl = None
    if len(W2) > 1:  # replicates: start Newton at the unweighted estimates
        a0, b0 = logistic_batch(lp, y, np.ones((1, n)), slope=True)
        c0, _ = logistic_batch(lp, y, np.ones((1, n)), slope=False)
        start_slope, start_citl = (a0[0], b0[0]), (c0[0], 1.0)
    _, slope = logistic_batch(lp, y, W2, slope=True, start=start_slope)
    citl, _ = logistic_batch(lp, y, W2, slope=False, start=start_citl)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = {
            "auroc": auroc_weighted(y, p, W2),
            "auprc": average_precision_weighted(y, p, W2),
            "brier": W2 @ (p - y) ** 2 / total,
            "log_loss": W2 @ loss / total,
            "calibration_slope": slope,
            "calibration_in_the_large": citl,
            "observed_expected": events / expected,
        }
        if threshold is not None:
            treat = (p >= threshold).astype("float64")
            out["sensitivity"] = W2 @ (y * treat) / events
            out["specificity"] = W2 @ ((1 - y) * (1 - treat)) / (total - events)
    return {k: float(v[0]) for k, v in out.items()} if one else out


def binary_metrics(y: ArrayLike, p: ArrayLike, threshold: float | None = None, *,
                   level: float = 0.95, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """External-validation metrics of a binary model, with confidence intervals.

    Parameters
    ----------
    y : array-like of 0/1
        Observed outcome (1 = impaired EIH).
    p : array-like of float
        The model's calibrated probabilities, strictly between 0 and 1.
    threshold : float, optional
        Decision threshold; without it the table has no sensitivity and specificity.
    level : float, default 0.95
    n_boot : int, default 1000
        Bootstrap replicates for the AUPRC interval (0: no interval).
    seed : int, default 0

    Returns
    -------
    DataFrame
        ``metric, estimate, ci_low, ci_high``; metrics in the order of
        :data:`BINARY_METRICS` (see the module docstring for each interval).

    Raises
    ------
    ValueError
        One line naming the bad row: y not 0/1, p missing or outside (0, 1), lengths
        differing, a single outcome class.

    Examples
    --------
    >>> rng = np.random.default_rng(3)
    >>> p = expit(rng.normal(-0.5, 1, 400)); y = (rng.random(400) < p).astype(int)
    >>> table = binary_metrics(y, p, 0.4, n_boot=0).set_index("metric")
    >>> bool(table.loc["calibration_slope", "ci_low"] < 1 < table.loc["calibration_slope",
    ...                                                                "ci_high"])
    True
    """
    y, p = _check_binary(y, p)
    _check_threshold(threshold)
    z = z_value(level)
    n = len(y)
    lp = logit(p)
    auc, v10, v01 = delong(y, p)
    se_auc = math.sqrt(v10.var(ddof=1) / len(v10) + v01.var(ddof=1) / len(v01)) \
        if min(len(v10), len(v01)) > 1 else np.nan
    ap = float(average_precision_weighted(y, p))
    if n_boot > 0:
        rng = np.random.default_rng(seed)
        draws = np.concatenate([
            average_precision_weighted(y, p, bootstrap_weights(n, min(200, n_boot - s), rng=rng))
            for s in range(0, n_boot, 200)])
        draws = draws[np.isfinite(draws)]
        ap_lo, ap_hi = np.quantile(draws, [(1 - level) / 2, 1 - (1 - level) / 2])
    else:
        ap_lo = ap_hi = np.nan
    slope_fit, citl_fit = _calibration_fits(y, lp)
    loss = -(y * np.log(p) + (1 - y) * np.log1p(-p))
    rows = [
        ("auroc", auc, max(auc - z * se_auc, 0.0), min(auc + z * se_auc, 1.0)),
        ("auprc", ap, ap_lo, ap_hi),
        ("brier", *mean_interval((p - y) ** 2, level)),
        ("log_loss", *mean_interval(loss, level)),
        ("calibration_slope", *_wald(slope_fit, 1, z)),
        ("calibration_in_the_large", *_wald(citl_fit, 0, z)),
        ("observed_expected", *_oe(y.sum(), p.sum(), n, z)),
    ]
    if threshold is not None:
        treat = p >= threshold
        tp, events = float((treat & (y == 1)).sum()), float(y.sum())
        tn, non_events = float((~treat & (y == 0)).sum()), float(n - y.sum())
        rows.append(("sensitivity", tp / events, *wilson_interval(tp, events, level)))
        rows.append(("specificity", tn / non_events, *wilson_interval(tn, non_events, level)))
    return _frame(rows)


def flexible_calibration_curve(y: ArrayLike, p: ArrayLike, *, n_knots: int = 4,
                               grid: ArrayLike | None = None,
                               level: float = 0.95) -> pd.DataFrame:
    """Flexible calibration curve with a pointwise confidence band.

    A logistic regression of the outcome on a restricted cubic spline of ``logit(p)``
    (knots at Harrell's default quantiles; Austin & Steyerberg, Stat Med 2014;33:517)
    gives the observed risk as a smooth function of the predicted risk; the band is
    ``expit(eta +/- z se(eta))`` with ``se`` from the model's covariance (delta method
    on the logit scale).

    Parameters
    ----------
    y, p : array-like
        Outcome (0/1) and predicted probabilities.
    n_knots : int, default 4
        Spline knots (3 to 7; 3 for fewer than about 100 events).
    grid : array-like of float, optional
        Predicted probabilities to evaluate at; default 100 points between the 1st and
        99th percentiles of ``p``.
    level : float, default 0.95

    Returns
    -------
    DataFrame
        ``predicted, observed, ci_low, ci_high``.

    Examples
    --------
    >>> rng = np.random.default_rng(2)
    >>> p = expit(rng.normal(-0.5, 1.2, 3000)); y = (rng.random(3000) < p).astype(int)
    >>> curve = flexible_calibration_curve(y, p, grid=[0.2, 0.5])
    >>> bool(((curve.ci_low < curve.predicted) & (curve.predicted < curve.ci_high)).all())
    True
    """
    y, p = _check_binary(y, p)
    z = z_value(level)
    lp = logit(p)
    knots = rcs_knots(lp, n_knots)
    X = np.column_stack([np.ones(len(y)), rcs_basis(lp, knots)])
    fit = fit_logistic(X, y)
    if grid is None:
        lo, hi = np.quantile(p, [0.01, 0.99])
        grid = np.linspace(lo, hi, 100)
    grid = as_probability(np.asarray(grid, dtype="float64"), len(np.asarray(grid)), "grid")
    Xg = np.column_stack([np.ones(len(grid)), rcs_basis(logit(grid), knots)])
    eta = Xg @ fit.coef
    se = np.sqrt(np.einsum("ij,jk,ik->i", Xg, fit.cov, Xg))
    return pd.DataFrame({"predicted": grid, "observed": expit(eta),
                         "ci_low": expit(eta - z * se), "ci_high": expit(eta + z * se)})


def net_benefit_curve(y: ArrayLike, p: ArrayLike, thresholds: ArrayLike | None = None, *,
                      level: float = 0.95) -> pd.DataFrame:
    """Decision curve: net benefit over threshold probabilities, with intervals.

    ``NB(t) = TP/n - FP/n * t / (1 - t)`` (Vickers & Elkin 2006) is a mean of per-row
    terms, so its interval is a t interval; ``treat_all`` is the net benefit of treating
    everyone (with its interval), treating no one is 0.

    Returns
    -------
    DataFrame
        ``threshold, net_benefit, ci_low, ci_high, treat_all, treat_all_ci_low,
        treat_all_ci_high``.

    Examples
    --------
    >>> y = np.array([1, 0, 1, 0, 0]); p = np.array([0.8, 0.6, 0.4, 0.3, 0.1])
    >>> net_benefit_curve(y, p, [0.5]).net_benefit.round(3).tolist()  # (1 - 1 * 1) / 5
    [0.0]
    """
    y = as_binary(y)
    p = as_probability(p, len(y), open_interval=False)
    t = (np.round(np.arange(0.01, 0.99 + 1e-9, 0.01), 2) if thresholds is None
         else np.asarray(thresholds, dtype="float64"))
    if ((t <= 0) | (t >= 1)).any():
        raise ValueError(f"Got thresholds {t[(t <= 0) | (t >= 1)][:3].tolist()}; expected "
                         "probabilities strictly between 0 and 1.")
    n = len(y)
    odds = (t / (1 - t))[:, None]
    treat = p[None, :] >= t[:, None]
    terms = treat * (y[None, :] - (1 - y[None, :]) * odds)
    all_terms = y[None, :] - (1 - y[None, :]) * odds
    q = student_t.ppf(1 - (1 - level) / 2, n - 1)

    def interval(x):
        mean = x.mean(axis=1)
        half = q * x.std(axis=1, ddof=1) / math.sqrt(n)
        return mean, mean - half, mean + half

    nb, lo, hi = interval(terms)
    ta, ta_lo, ta_hi = interval(all_terms)
    return pd.DataFrame({"threshold": t, "net_benefit": nb, "ci_low": lo, "ci_high": hi,
                         "treat_all": ta, "treat_all_ci_low": ta_lo,
                         "treat_all_ci_high": ta_hi})


def continuous_metrics(y: ArrayLike, predicted: ArrayLike, *, pi_low: ArrayLike | None = None,
                       pi_high: ArrayLike | None = None,
                       level: float = 0.95) -> pd.DataFrame:
    """External-validation metrics of a continuous model (e.g. the PPT change in kPa).

    ``r2`` (``1 - SSE / SST`` around the validation mean; delta-method interval from the
    influence function of the ratio), ``rmse`` (t interval of the mean squared error,
    square-rooted), ``mae`` (t interval), ``calibration_slope`` and
    ``calibration_intercept`` (``lm(y ~ predicted)``, t intervals),
    ``calibration_in_the_large`` (mean of ``y - predicted``, t interval), and with
    prediction-interval bounds ``pi_coverage`` (share of ``y`` inside
    ``[pi_low, pi_high]``, Wilson interval) and ``pi_width`` (mean width, t interval).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> mu = rng.normal(20, 30, 500); y = mu + rng.normal(0, 40, 500)
    >>> t = continuous_metrics(y, mu, pi_low=mu - 51.3, pi_high=mu + 51.3).set_index("metric")
    >>> bool(t.loc["pi_coverage", "ci_low"] < 0.8 < t.loc["pi_coverage", "ci_high"])
    True
    """
    y = np.asarray(y, dtype="float64")
    yhat = np.asarray(predicted, dtype="float64")
    if y.ndim != 1 or yhat.shape != y.shape:
        raise ValueError(f"Got y with shape {y.shape} and predicted with shape {yhat.shape}; "
                         "expected two equal-length one-dimensional arrays.")
    for name, arr in (("y", y), ("predicted", yhat)):
        if not np.isfinite(arr).all():
            i = int(np.flatnonzero(~np.isfinite(arr))[0])
            raise ValueError(f"Got {name}={show(arr[i])} at row {i}; expected a finite number.")
    n = len(y)
    if n < 3:
        raise ValueError(f"Got {n} rows; expected at least 3.")
    z = z_value(level)
    q = float(student_t.ppf(1 - (1 - level) / 2, n - 2))
    e = y - yhat
    mse, sst = np.mean(e * e), np.mean((y - y.mean()) ** 2)
    r2 = 1 - mse / sst
    influence = -(e * e - mse) / sst + mse * ((y - y.mean()) ** 2 - sst) / sst**2
    se_r2 = influence.std(ddof=1) / math.sqrt(n)
    mse_ci = mean_interval(e * e, level)
    X = np.column_stack([np.ones(n), yhat])
    coef, *_ = np.linalg.lstsq(X, y, rcond=None)
    resid = y - X @ coef
    sigma2 = resid @ resid / (n - 2)
    se = np.sqrt(np.diag(sigma2 * np.linalg.inv(X.T @ X)))
    rows = [
        ("r2", r2, r2 - z * se_r2, r2 + z * se_r2),
        ("rmse", math.sqrt(mse), math.sqrt(max(mse_ci[1], 0.0)), math.sqrt(mse_ci[2])),
        ("mae", *mean_interval(np.abs(e), level)),
        ("calibration_slope", coef[1], coef[1] - q * se[1], coef[1] + q * se[1]),
        ("calibration_intercept", coef[0], coef[0] - q * se[0], coef[0] + q * se[0]),
        ("calibration_in_the_large", *mean_interval(e, level)),
    ]
    if (pi_low is None) != (pi_high is None):
        raise ValueError("Got only one of pi_low and pi_high; expected both or neither.")
    if pi_low is not None:
        lo = np.asarray(pi_low, dtype="float64")
        hi = np.asarray(pi_high, dtype="float64")
        if lo.shape != y.shape or hi.shape != y.shape:
            raise ValueError("Got prediction-interval bounds of another length than y.")
        bad = ~np.isfinite(lo) | ~np.isfinite(hi) | (lo > hi)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(f"Got pi_low={show(lo[i])}, pi_high={show(hi[i])} at row {i}; "
                             "expected finite bounds with pi_low <= pi_high.")
        inside = float(((y >= lo) & (y <= hi)).sum())
        rows.append(("pi_coverage", inside / n, *wilson_interval(inside, n, level)))
        rows.append(("pi_width", *mean_interval(hi - lo, level)))
    return _frame(rows)


def _class_codes(y, classes: Sequence[str]) -> np.ndarray:
    arr = np.asarray(y)
    k = len(classes)
    whole = np.issubdtype(arr.dtype, np.integer) or (
        np.issubdtype(arr.dtype, np.floating) and np.all(arr == np.round(arr)))
    if whole:
        codes = arr.astype(int)
        bad = (codes < 0) | (codes >= k)
    else:
        lookup = {str(c): i for i, c in enumerate(classes)}
        codes = np.array([lookup.get(str(v).lower(), -1) for v in arr])
        bad = codes < 0
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"Got y={show(arr[i])} at row {i}; expected one of {', '.join(classes)} "
                         f"(or a code 0-{k - 1}).")
    return codes


def multiclass_metrics(y: ArrayLike, proba: ArrayLike, classes: Sequence[str] = THREE_CLASSES, *,
                       level: float = 0.95) -> pd.DataFrame:
    """External-validation metrics of a multi-class (three-class) model.

    Per class (one versus rest): ``auroc_<class>`` (DeLong), ``calibration_slope_<class>``
    and ``calibration_in_the_large_<class>`` (logistic recalibration of ``logit(p_class)``
    as in the binary case; Van Calster et al., Stat Med 2017;36:4449, one-vs-rest form),
    ``observed_expected_<class>``; overall: ``auroc_macro`` (mean of the per-class
    AUROCs; interval from the DeLong influence values summed over classes, which gives
    their covariance), ``brier`` (``mean_i sum_k (p_ik - y_ik)^2``, 0 to 2) and
    ``log_loss`` (``-mean_i log p_i,y_i``), with t intervals.

    Parameters
    ----------
    y : array-like
        Observed class per row: a name from ``classes`` or its position 0..K-1.
    proba : array-like of shape (n, K)
        Predicted probabilities in the order of ``classes``; rows sum to 1.
    classes : sequence of str, default ("hypoalgesia", "no_change", "hyperalgesia")
    level : float, default 0.95

    Returns
    -------
    DataFrame
        ``metric, estimate, ci_low, ci_high``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> P = rng.dirichlet([2, 2, 2], 300); y = (rng.random(300)[:, None] > P.cumsum(1)).sum(1)
    >>> table = multiclass_metrics(y, P).set_index("metric")
    >>> table.index[:4].tolist()
    ['auroc_hypoalgesia', 'auroc_no_change', 'auroc_hyperalgesia', 'auroc_macro']
    """
    k = len(classes)
    codes = _class_codes(y, classes)
    n = len(codes)
    P = as_probability(proba, n, "proba")
    if P.ndim != 2 or P.shape[1] != k:
        raise ValueError(f"Got proba with shape {P.shape}; expected ({n}, {k}) for classes "
                         f"{', '.join(classes)}.")
    off = np.abs(P.sum(axis=1) - 1) > 1e-6
    if off.any():
        i = int(np.flatnonzero(off)[0])
        raise ValueError(f"Got probabilities summing to {P[i].sum():.6g} at row {i}; expected 1.")
    z = z_value(level)
    rows, psi = [], np.zeros(n)
    aucs = []
    for j, name in enumerate(classes):
        yj = (codes == j).astype("float64")
        if yj.sum() in (0, n):
            raise ValueError(f"Got no rows {'in' if yj.sum() == 0 else 'outside'} class "
                             f"{name!r}; one-versus-rest metrics need both.")
        pj = P[:, j]
        auc, v10, v01 = delong(yj, pj)
        m, m0 = len(v10), len(v01)
        contribution = np.empty(n)
        contribution[yj == 1] = (v10 - auc) / math.sqrt(m * (m - 1))
        contribution[yj == 0] = (v01 - auc) / math.sqrt(m0 * (m0 - 1))
        psi += contribution
        se = math.sqrt(np.sum(contribution**2))
        aucs.append(auc)
        rows.append((f"auroc_{name}", auc, max(auc - z * se, 0.0), min(auc + z * se, 1.0)))
    macro = float(np.mean(aucs))
    se_macro = math.sqrt(np.sum(psi**2)) / k
    rows.append(("auroc_macro", macro, max(macro - z * se_macro, 0.0),
                 min(macro + z * se_macro, 1.0)))
    for j, name in enumerate(classes):
        yj = (codes == j).astype("float64")
        slope_fit, citl_fit = _calibration_fits(yj, logit(P[:, j]))
        rows.append((f"calibration_slope_{name}", *_wald(slope_fit, 1, z)))
        rows.append((f"calibration_in_the_large_{name}", *_wald(citl_fit, 0, z)))
        rows.append((f"observed_expected_{name}", *_oe(yj.sum(), P[:, j].sum(), n, z)))
    onehot = np.eye(k)[codes]
    rows.append(("brier", *mean_interval(np.sum((P - onehot) ** 2, axis=1), level)))
    rows.append(("log_loss", *mean_interval(-np.log(P[np.arange(n), codes]), level)))
    return _frame(rows)

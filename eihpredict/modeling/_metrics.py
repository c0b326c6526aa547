"""Performance metrics with 95 % bootstrap intervals, thresholds and decision curves.

Intervals come from a participant-level bootstrap of the out-of-fold predictions (with
repeated CV, each bootstrap sample scores every repeat on the same participants and
averages). Calibration slope and intercept follow Van Calster et al. 2019: the slope
is the coefficient of ``logit(p)`` in a logistic model of the outcome (1 = ideal, < 1
= overconfident), the intercept (calibration-in-the-large) is fitted with
``logit(p)`` as offset (0 = ideal).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import logit

from ._bootstrap import draw_rows
from ._stats import auroc_weighted, average_precision_weighted, fit_logistic

__all__ = [
    "METRICS",
    "bootstrap_metrics",
    "calibration_slope_intercept",
    "choose_threshold",
    "decision_curve",
    "point_metrics",
]

METRICS = ("auroc", "auprc", "brier", "log_loss", "calibration_slope", "calibration_intercept",
           "sensitivity", "specificity", "ppv", "npv")
_EPS = 1e-12


def _auroc(y: np.ndarray, p: np.ndarray) -> float:
    """AUROC (NaN with one class): :func:`~eihpredict.modeling._stats.auroc_weighted`,
    the one implementation."""
    y = np.asarray(y, dtype="float64")
    n_pos = y.sum()
    if n_pos == 0 or n_pos == len(y):
        return np.nan
    return float(auroc_weighted(y, np.asarray(p, dtype="float64")))


def _auprc(y: np.ndarray, p: np.ndarray) -> float:
    """Average precision (step-wise area under the precision-recall curve; NaN without
    events): :func:`~eihpredict.modeling._stats.average_precision_weighted`."""
    y = np.asarray(y, dtype="float64")
    if y.sum() == 0:
        return np.nan
    return float(average_precision_weighted(y, np.asarray(p, dtype="float64")))


def calibration_slope_intercept(y: np.ndarray, p: np.ndarray) -> tuple[float, float]:
    """Calibration slope and intercept (calibration-in-the-large).

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> lp = rng.normal(0, 1.5, 20000)
    >>> y = (rng.random(20000) < 1 / (1 + np.exp(-lp))).astype(int)
    >>> slope, intercept = calibration_slope_intercept(y, 1 / (1 + np.exp(-2 * lp)))
    >>> round(slope, 1), round(intercept, 1)
    (0.5, 0.0)
    """
    y = np.asarray(y, dtype="float64")
    z = logit(np.clip(p, _EPS, 1 - _EPS))
    ones = np.ones(len(y))
    # one logistic fit for every calibration figure (the external metrics' too)
    slope = fit_logistic(np.column_stack([ones, z]), y, max_iter=25, tol=1e-10).coef[1]
    intercept = fit_logistic(ones[:, None], y, offset=z, max_iter=25, tol=1e-10).coef[0]
    return float(slope), float(intercept)


def point_metrics(y: np.ndarray, p: np.ndarray, threshold: float,
                  decision: np.ndarray | None = None) -> dict[str, float]:
    """Every metric of :data:`METRICS` for one set of predictions.

    ``decision`` (boolean, optional) replaces ``p >= threshold`` for the
    threshold-based metrics, e.g. decisions made with each outer fold's own threshold.
    """
    y = np.asarray(y).astype(int)
    p = np.asarray(p, dtype="float64")
    pc = np.clip(p, _EPS, 1 - _EPS)
    slope, intercept = calibration_slope_intercept(y, p)
    pred = p >= threshold if decision is None else np.asarray(decision, dtype=bool)
    tp, fp = np.sum(pred & (y == 1)), np.sum(pred & (y == 0))
    fn, tn = np.sum(~pred & (y == 1)), np.sum(~pred & (y == 0))

    def ratio(a, b):
        return float(a / b) if b else np.nan

    return {
        "auroc": _auroc(y, p),
        "auprc": _auprc(y, p),
        "brier": float(np.mean((p - y) ** 2)),
        "log_loss": float(-np.mean(y * np.log(pc) + (1 - y) * np.log(1 - pc))),
        "calibration_slope": slope,
        "calibration_intercept": intercept,
        "sensitivity": ratio(tp, tp + fn),
        "specificity": ratio(tn, tn + fp),
        "ppv": ratio(tp, tp + fp),
        "npv": ratio(tn, tn + fn),
    }


def bootstrap_metrics(y: np.ndarray, predictions: np.ndarray, threshold: float, *,
                      decisions: np.ndarray | None = None, n_boot: int = 500,
                      seed: int = 0, clusters: np.ndarray | None = None) -> pd.DataFrame:
    """Metrics with 95 % percentile intervals from a participant-level bootstrap.

    Parameters
    ----------
    y : array of shape (n,)
    predictions : array of shape (n,) or (n_repeats, n)
        Out-of-fold probabilities (one row per CV repeat).
    threshold : float
        Decision threshold for sensitivity, specificity, PPV and NPV.
    decisions : array of bool, same shape as ``predictions``, optional
        Decisions to use instead of ``predictions >= threshold``.
    clusters : array of shape (n,), optional
        Participant of each row (repeated sessions): whole participants are resampled.

    Returns
    -------
    DataFrame indexed by metric with ``estimate``, ``ci_low``, ``ci_high``.
    """
    y = np.asarray(y).astype(int)
    preds = np.atleast_2d(np.asarray(predictions, dtype="float64"))
    decs = preds >= threshold if decisions is None else np.atleast_2d(decisions).astype(bool)
    estimate = pd.DataFrame([point_metrics(y, p, threshold, d)
                             for p, d in zip(preds, decs, strict=True)]).mean()
    rng = np.random.default_rng(seed)
    n = len(y)
    draws = []
    for _ in range(n_boot):
        idx = draw_rows(rng, n, clusters)
        draws.append(pd.DataFrame([point_metrics(y[idx], p[idx], threshold, d[idx])
                                   for p, d in zip(preds, decs, strict=True)]).mean())
    boot = pd.DataFrame(draws)
    return pd.DataFrame({
        "estimate": estimate,
        "ci_low": boot.quantile(0.025),
        "ci_high": boot.quantile(0.975),
    }).loc[list(METRICS)]


def choose_threshold(y: np.ndarray, p: np.ndarray, rule: str, *, value: float = 0.5,
                     min_sensitivity: float = 0.8) -> float:
    """Decision threshold by a stated rule.

    ``youden``: maximises sensitivity + specificity - 1; ``fixed``: ``value``;
    ``prevalence``: the observed share of impaired EIH; ``sensitivity``: the highest
    threshold whose sensitivity is at least ``min_sensitivity``.

    Examples
    --------
    >>> y = np.array([0, 0, 1, 1]); p = np.array([0.1, 0.4, 0.35, 0.8])
    >>> choose_threshold(y, p, "youden"), choose_threshold(y, p, "prevalence")
    (0.35, 0.5)
    """
    y = np.asarray(y).astype(int)
    p = np.asarray(p, dtype="float64")
    if rule == "fixed":
        return float(value)
    if rule == "prevalence":
        return float(y.mean())
    candidates = np.unique(p)
    pos, neg = max(y.sum(), 1), max((1 - y).sum(), 1)
    order = np.sort(p)
    # sensitivity(t) = share of positives with p >= t, via sorted positives.
    pos_sorted, neg_sorted = np.sort(p[y == 1]), np.sort(p[y == 0])
    sens = 1 - np.searchsorted(pos_sorted, candidates, side="left") / pos
    spec = np.searchsorted(neg_sorted, candidates, side="left") / neg
    if rule == "youden":
        return float(candidates[np.argmax(sens + spec - 1)])
    if rule == "sensitivity":
        ok = np.flatnonzero(sens >= min_sensitivity)
        return float(candidates[ok[-1]] if len(ok) else order[0])
    raise ValueError(f"Got threshold rule={rule!r}; expected youden, fixed, prevalence or "
                     "sensitivity.")


def decision_curve(y: np.ndarray, predictions: np.ndarray,
                   thresholds: np.ndarray | None = None, *, n_boot: int = 200,
                   seed: int = 0, clusters: np.ndarray | None = None) -> pd.DataFrame:
    """Net benefit over threshold probabilities, with bootstrap intervals.

    ``net_benefit(t) = TP/n - FP/n * t / (1 - t)`` (Vickers & Elkin 2006), next to
    "treat all" and "treat none" (0).
    """
    y = np.asarray(y).astype(int)
    preds = np.atleast_2d(np.asarray(predictions, dtype="float64"))
    if thresholds is None:
        thresholds = np.round(np.arange(0.05, 0.951, 0.05), 2)
    odds = thresholds / (1 - thresholds)

    def nb(yy, pp):
        out = np.zeros(len(thresholds))
        for p in pp:
            treat = p[None, :] >= thresholds[:, None]
            tp = (treat & (yy[None, :] == 1)).sum(axis=1)
            fp = (treat & (yy[None, :] == 0)).sum(axis=1)
            out += (tp - fp * odds) / len(yy)
        return out / len(pp)

    estimate = nb(y, preds)
    rng = np.random.default_rng(seed)
    boots = []
    for _ in range(n_boot):
        idx = draw_rows(rng, len(y), clusters)  # participants whole with sessions
        boots.append(nb(y[idx], preds[:, idx]))
    boots = np.array(boots)
    prevalence = y.mean()
    return pd.DataFrame({
        "threshold": thresholds,
        "net_benefit": estimate,
        "ci_low": np.quantile(boots, 0.025, axis=0),
        "ci_high": np.quantile(boots, 0.975, axis=0),
        "treat_all": prevalence - (1 - prevalence) * odds,
    })


def subgroup_metrics(frame: pd.DataFrame, y: np.ndarray, predictions: np.ndarray, *,
                     columns: tuple[str, ...] = ("population", "sex", "site"),
                     min_rows: int = 30, n_boot: int = 200, seed: int = 0,
                     clusters: np.ndarray | None = None) -> pd.DataFrame:
    """Performance by subgroup (pain population, sex, site) from out-of-fold predictions.

    Subgroups with fewer than ``min_rows`` rows or one class only get ``n`` and
    ``events`` but no metrics (too few to say anything). ``clusters`` (participants with
    repeated sessions) are resampled whole.
    """
    y = np.asarray(y).astype(int)
    preds = np.atleast_2d(np.asarray(predictions, dtype="float64"))
    rng = np.random.default_rng(seed)
    rows = []
    for column in columns:
        if column not in frame:
            continue
        values = frame[column].astype("object").fillna("missing").to_numpy()
        for level in pd.unique(values):
            mask = values == level
            yy, pp = y[mask], preds[:, mask]
            cc = None if clusters is None else np.asarray(clusters)[mask]
            row = {"variable": column, "level": str(level), "n": int(mask.sum()),
                   "events": int(yy.sum())}
            if mask.sum() >= min_rows and 0 < yy.sum() < len(yy):
                auc = np.mean([_auroc(yy, p) for p in pp])
                boots = []
                for _ in range(n_boot):
                    idx = draw_rows(rng, len(yy), cc)
                    if 0 < yy[idx].sum() < len(idx):
                        boots.append(np.mean([_auroc(yy[idx], p[idx]) for p in pp]))
                row.update({
                    "auroc": auc, "auroc_ci_low": float(np.quantile(boots, 0.025)),
                    "auroc_ci_high": float(np.quantile(boots, 0.975)),
                    "brier": float(np.mean([(p - yy) ** 2 for p in pp])),
                    "observed": float(yy.mean()), "predicted": float(pp.mean()),
                })
            rows.append(row)
    return pd.DataFrame(rows)

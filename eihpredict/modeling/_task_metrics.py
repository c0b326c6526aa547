"""Metrics of continuous and three-class models, with 95 % bootstrap intervals.

Like :func:`~eihpredict.modeling.bootstrap_metrics` (binary): computed on out-of-fold
predictions, averaged over CV repeats, with percentile intervals from a
participant-level bootstrap.

Continuous (:data:`CONTINUOUS_METRICS`): ``r2`` (``1 - SSE / SST`` around the mean of the
rows evaluated), ``rmse``, ``mae`` (kPa), ``change_calibration_slope`` (slope of the
observed on the predicted change; 1 = ideal, < 1 = predictions too spread out),
``change_calibration_in_the_large`` (mean observed minus predicted, kPa),
``pi_coverage`` (share of observed changes inside the prediction interval; the
nominal level is the target) and ``pi_width`` (mean width, kPa), then the binary
metrics (:data:`~eihpredict.modeling.METRICS`) of the derived ``p_impaired_eih``
against impaired EIH (``change <= threshold_kpa``).

Three classes (:data:`THREE_CLASS_METRICS`): per class, one versus rest, ``auroc_<c>``,
``auprc_<c>``, ``calibration_slope_<c>`` and ``calibration_intercept_<c>`` (logistic
recalibration of ``logit(p_c)``, as for a binary model; Van Calster et al. 2017,
one-vs-rest form); ``auroc_macro`` and ``auprc_macro`` (means over classes); ``brier``
(``mean_i sum_c (p_ic - y_ic)^2``, 0 to 2), ``log_loss`` (``-mean_i log p_i,y_i``) and
``accuracy`` of the most probable class.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from ._bootstrap import draw_rows
from ._metrics import _EPS, METRICS, _auprc, _auroc, calibration_slope_intercept, point_metrics
from ._outputs import THREE_CLASSES

__all__ = ["CONTINUOUS_METRICS", "THREE_CLASS_METRICS", "bootstrap_continuous_metrics",
           "bootstrap_three_class_metrics", "continuous_point_metrics",
           "three_class_point_metrics"]

CONTINUOUS_METRICS = ("r2", "rmse", "mae", "change_calibration_slope",
                      "change_calibration_in_the_large", "pi_coverage", "pi_width", *METRICS)
THREE_CLASS_METRICS = (
    *(f"{m}_{c}" for m in ("auroc", "auprc", "calibration_slope", "calibration_intercept")
      for c in THREE_CLASSES),
    "auroc_macro", "auprc_macro", "brier", "log_loss", "accuracy",
)


def continuous_point_metrics(y: np.ndarray, predicted: np.ndarray, low: np.ndarray,
                             high: np.ndarray) -> dict[str, float]:
    """Prediction metrics of the change itself (see the module docstring).

    Examples
    --------
    >>> y = np.array([10.0, -5.0, 30.0, 0.0]); mu = np.array([8.0, 0.0, 20.0, 2.0])
    >>> m = continuous_point_metrics(y, mu, mu - 6, mu + 6)
    >>> round(m["rmse"], 3), m["pi_coverage"]
    (5.766, 0.75)
    """
    y = np.asarray(y, dtype="float64")
    mu = np.asarray(predicted, dtype="float64")
    error = y - mu
    sst = float(np.sum((y - y.mean()) ** 2))
    centred = mu - mu.mean()
    spread = float(np.sum(centred**2))
    return {
        "r2": 1 - float(np.sum(error**2)) / sst if sst > 0 else np.nan,
        "rmse": float(np.sqrt(np.mean(error**2))),
        "mae": float(np.mean(np.abs(error))),
        "change_calibration_slope": float(np.sum(centred * (y - y.mean())) / spread)
        if spread > 0 else np.nan,
        "change_calibration_in_the_large": float(np.mean(error)),
        "pi_coverage": float(np.mean((y >= low) & (y <= high))),
        "pi_width": float(np.mean(np.asarray(high) - np.asarray(low))),
    }


def _bootstrap(point: Callable[[np.ndarray, int], dict[str, float]], n: int, repeats: int,
               names, n_boot: int, seed: int, clusters=None) -> pd.DataFrame:
    """Estimate (mean over repeats) and percentile interval over participant resamples."""
    everyone = np.arange(n)
    estimate = pd.DataFrame([point(everyone, r) for r in range(repeats)]).mean()
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(n_boot):
        idx = draw_rows(rng, n, clusters)
        draws.append(pd.DataFrame([point(idx, r) for r in range(repeats)]).mean())
    boot = pd.DataFrame(draws)
    return pd.DataFrame({"estimate": estimate, "ci_low": boot.quantile(0.025),
                         "ci_high": boot.quantile(0.975)}).loc[list(names)]


def bootstrap_continuous_metrics(y: np.ndarray, outputs: dict[str, np.ndarray],
                                 threshold_kpa: float, threshold: float, *,
                                 decisions: np.ndarray | None = None, n_boot: int = 500,
                                 seed: int = 0, clusters=None) -> pd.DataFrame:
    """Continuous metrics with 95 % intervals (``clusters``: participant per row, whole
    participants resampled).

    Parameters
    ----------
    y : array of shape (n,)
        Observed change (kPa).
    outputs : dict
        ``predicted_change_kpa``, ``change_pi_low``, ``change_pi_high`` and
        ``p_impaired_eih``, each of shape (n,) or (n_repeats, n).
    threshold_kpa : float
        Impaired EIH is ``change <= threshold_kpa``.
    threshold : float
        Probability threshold for sensitivity and the rest (unless ``decisions``).
    decisions : array of bool, optional
        The decisions made (``eih_prediction == "impaired"``), per repeat.

    Returns
    -------
    DataFrame indexed by :data:`CONTINUOUS_METRICS`, with ``estimate``, ``ci_low``,
    ``ci_high``.
    """
    y = np.asarray(y, dtype="float64")
    mu, low, high, p = (np.atleast_2d(np.asarray(outputs[c], dtype="float64")) for c in (
        "predicted_change_kpa", "change_pi_low", "change_pi_high", "p_impaired_eih"))
    event = (y <= threshold_kpa).astype(int)
    dec = p >= threshold if decisions is None else np.atleast_2d(decisions).astype(bool)

    def point(idx, r):
        return {**continuous_point_metrics(y[idx], mu[r, idx], low[r, idx], high[r, idx]),
                **point_metrics(event[idx], p[r, idx], threshold, dec[r, idx])}

    return _bootstrap(point, len(y), len(mu), CONTINUOUS_METRICS, n_boot, seed, clusters)


def three_class_point_metrics(y: np.ndarray, proba: np.ndarray,
                              predicted: np.ndarray | None = None) -> dict[str, float]:
    """Three-class metrics of one set of predictions (see the module docstring).

    Examples
    --------
    >>> y = np.array([0, 1, 2, 2]); P = np.array([[.7, .2, .1], [.2, .6, .2], [.1, .3, .6],
    ...                                            [.3, .3, .4]])
    >>> m = three_class_point_metrics(y, P)
    >>> m["auroc_hyperalgesia"], m["accuracy"]
    (1.0, 1.0)
    """
    y = np.asarray(y).astype(int)
    P = np.asarray(proba, dtype="float64")
    onehot = np.eye(P.shape[1])[y]
    out: dict[str, float] = {}
    for j, name in enumerate(THREE_CLASSES):
        yj, pj = onehot[:, j], P[:, j]
        both = 0 < yj.sum() < len(yj)
        out[f"auroc_{name}"] = _auroc(yj, pj) if both else np.nan
        out[f"auprc_{name}"] = _auprc(yj, pj) if both else np.nan
        slope, intercept = calibration_slope_intercept(yj, pj) if both else (np.nan, np.nan)
        out[f"calibration_slope_{name}"] = slope
        out[f"calibration_intercept_{name}"] = intercept
    out["auroc_macro"] = float(np.mean([out[f"auroc_{c}"] for c in THREE_CLASSES]))
    out["auprc_macro"] = float(np.mean([out[f"auprc_{c}"] for c in THREE_CLASSES]))
    out["brier"] = float(np.mean(((P - onehot) ** 2).sum(axis=1)))
    out["log_loss"] = float(-np.mean(np.log(np.clip(P[np.arange(len(y)), y], _EPS, 1))))
    chosen = np.argmax(P, axis=1) if predicted is None else np.asarray(predicted, dtype=int)
    out["accuracy"] = float(np.mean(chosen == y))
    return out


def bootstrap_three_class_metrics(y: np.ndarray, probabilities: np.ndarray, *,
                                  decisions: np.ndarray | None = None, n_boot: int = 500,
                                  seed: int = 0, clusters=None) -> pd.DataFrame:
    """Three-class metrics with 95 % intervals (``clusters``: participant per row, whole
    participants resampled).

    Parameters
    ----------
    y : array of shape (n,)
        Class codes 0, 1, 2 (hypoalgesia, no change, hyperalgesia).
    probabilities : array of shape (n, 3) or (n_repeats, n, 3)
    decisions : array of int, optional
        Predicted classes, per repeat (default: the most probable).

    Returns
    -------
    DataFrame indexed by :data:`THREE_CLASS_METRICS`.
    """
    y = np.asarray(y).astype(int)
    P = np.asarray(probabilities, dtype="float64")
    P = P[None] if P.ndim == 2 else P
    dec = np.argmax(P, axis=2) if decisions is None else np.atleast_2d(decisions)

    def point(idx, r):
        return three_class_point_metrics(y[idx], P[r, idx], dec[r, idx])

    return _bootstrap(point, len(y), len(P), THREE_CLASS_METRICS, n_boot, seed, clusters)

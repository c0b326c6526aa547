"""Output maps: from a fitted model's raw scores to the columns it returns, per task.

=============  ==========================  =============================================
task           raw score                   output columns
=============  ==========================  =============================================
binary         log-odds (n,)               ``p_impaired_eih``, ``eih_prediction``
continuous     predicted change, kPa (n,)  ``predicted_change_kpa``, ``change_pi_low``,
                                           ``change_pi_high``, ``p_impaired_eih``,
                                           ``eih_prediction``
three_class    logits (n, 3)               ``p_hypoalgesia``, ``p_no_change``,
                                           ``p_hyperalgesia``, ``eih_class``
=============  ==========================  =============================================

The continuous model's predictive distribution (:class:`ResidualDistribution`) is the
predicted change plus the model's out-of-fold residuals (split/cross-validation
conformal prediction; Lei et al. 2018, Barber et al. 2021): the prediction interval
takes their finite-sample conformal quantiles, and ``p_impaired_eih = P(change <=
threshold_kpa)`` is their kernel-smoothed distribution function at ``threshold_kpa -
predicted``. So one continuous model answers any responder threshold.

Top-K explanations of a three-class model explain each row's **predicted class**
(``eih_class``): the contributions to that class's raw logit.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np
from scipy.special import ndtr

from ._calibration import Calibrator, MulticlassCalibrator
from ._external import THREE_CLASSES as _EXTERNAL_CLASSES

__all__ = ["THREE_CLASSES", "BinaryOutputs", "ContinuousOutputs", "OutputMap",
           "ResidualDistribution", "ThreeClassOutputs", "conformal_interval"]

#: Classes of a three-class model, in label order (0, 1, 2).
THREE_CLASSES = _EXTERNAL_CLASSES


class OutputMap(ABC):
    """Raw scores -> output columns, for one task."""

    task: str
    columns: tuple[str, ...]
    #: Output columns holding text (the rest are numbers).
    text_columns: frozenset[str] = frozenset({"eih_prediction", "eih_class"})

    @abstractmethod
    def __call__(self, raw: np.ndarray) -> dict[str, np.ndarray]:
        """The output columns for raw scores."""

    def probability(self, outputs: dict[str, np.ndarray]) -> np.ndarray:
        """The model's probability: P(impaired EIH) (n,), or class probabilities (n, K)."""
        return outputs["p_impaired_eih"]

    def explained(self, outputs: dict[str, np.ndarray]) -> int | np.ndarray:
        """Which raw output the top-K explanations explain (a three-class model only)."""
        return 0

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """Parameters for the metadata and model card."""


class BinaryOutputs(OutputMap):
    """Calibrated probability of impaired EIH and the label at the threshold
    (``impaired`` at or above, else ``responder``)."""

    task = "binary"
    columns = ("p_impaired_eih", "eih_prediction")

    def __init__(self, calibrator: Calibrator, threshold: float) -> None:
        self.calibrator = calibrator
        self.threshold = threshold

    def __call__(self, raw):
        p = self.calibrator.predict(raw)
        return {"p_impaired_eih": p,
                "eih_prediction": np.where(p >= self.threshold, "impaired", "responder")}

    def describe(self):
        return {"method": self.calibrator.method, **self.calibrator.parameters()}


def conformal_interval(residuals: np.ndarray, level: float) -> tuple[float, float]:
    """Split-conformal bounds from ``n`` residuals: the ``floor((n + 1) * (1 - level) /
    2)``-th and ``ceil((n + 1) * (1 + level) / 2)``-th smallest (infinite when ``n`` is
    too small for the level). A new exchangeable residual falls inside with probability
    at least ``level`` (Lei et al. 2018).

    Examples
    --------
    >>> conformal_interval(np.arange(1.0, 100.0), 0.8)
    (10.0, 90.0)
    """
    r = np.sort(np.asarray(residuals, dtype="float64"))
    n = len(r)
    alpha = 1 - level
    eps = 1e-9  # (n + 1) * 0.1 is 9.999999999999998 in floating point for n = 99
    k_low = int(np.floor((n + 1) * alpha / 2 + eps))
    k_high = int(np.ceil((n + 1) * (1 - alpha / 2) - eps))
    return (float(r[k_low - 1]) if k_low >= 1 else -np.inf,
            float(r[k_high - 1]) if k_high <= n else np.inf)


class ResidualDistribution:
    """The distribution of out-of-fold residuals ``observed - predicted`` (kPa).

    Parameters
    ----------
    level : float
        Coverage of the prediction interval (0.8: an 80 % interval).

    Attributes
    ----------
    residuals_ : ndarray
        Sorted residuals.
    low_, high_ : float
        Conformal bounds (:func:`conformal_interval`).
    bandwidth_ : float
        Gaussian kernel bandwidth of the smoothed distribution function,
        ``1.587 * s * n ** (-1/3)`` with ``s = min(SD, IQR / 1.349)`` (the normal-scale
        rule for a kernel distribution function estimate: ``(4 / n) ** (1/3) * sigma``).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> dist = ResidualDistribution(0.8).fit(rng.normal(0, 50, 5000))
    >>> round(dist.high_ / 50, 1), round(float(dist.cdf(np.array([0.0]))[0]), 1)
    (1.3, 0.5)
    """

    GRID = 4097

    def __init__(self, level: float = 0.8) -> None:
        if not 0 < level < 1:
            raise ValueError(f"Got level={level!r}; expected a coverage between 0 and 1.")
        self.level = level

    def fit(self, residuals: np.ndarray) -> ResidualDistribution:
        r = np.sort(np.asarray(residuals, dtype="float64"))
        if r.ndim != 1 or len(r) < 2 or not np.isfinite(r).all():
            raise ValueError("Got residuals that are not at least two finite numbers.")
        n = len(r)
        self.residuals_ = r
        self.low_, self.high_ = conformal_interval(r, self.level)
        iqr = float(np.subtract(*np.quantile(r, [0.75, 0.25])))
        spread = min(float(np.std(r, ddof=1)), iqr / 1.349) or float(np.std(r, ddof=1)) or 1.0
        self.bandwidth_ = 1.587 * spread * n ** (-1 / 3)
        # The smoothed distribution function on a fine grid (interpolated when used).
        self.grid_ = np.linspace(r[0] - 8 * self.bandwidth_, r[-1] + 8 * self.bandwidth_,
                                 self.GRID)
        cdf = np.empty(self.GRID)
        for start in range(0, self.GRID, 512):
            part = self.grid_[start:start + 512]
            cdf[start:start + 512] = ndtr((part[:, None] - r[None, :]) / self.bandwidth_
                                          ).mean(axis=1)
        self.cdf_ = np.maximum.accumulate(cdf)
        return self

    def cdf(self, t: np.ndarray) -> np.ndarray:
        """``P(residual <= t)``, smoothed (0 below the grid, 1 above)."""
        return np.interp(np.asarray(t, dtype="float64"), self.grid_, self.cdf_, left=0.0,
                         right=1.0)

    def describe(self) -> dict[str, Any]:
        r = self.residuals_
        return {"method": "conformal: out-of-fold residuals", "level": self.level,
                "n_residuals": int(len(r)), "residual_mean": float(np.mean(r)),
                "residual_sd": float(np.std(r, ddof=1)), "interval_low": self.low_,
                "interval_high": self.high_, "bandwidth": self.bandwidth_}


class ContinuousOutputs(OutputMap):
    """Predicted change, its prediction interval, and the derived P(impaired EIH).

    ``p_impaired_eih = P(change <= threshold_kpa)``; ``eih_prediction`` is ``impaired``
    when it is at or above ``threshold`` (a probability chosen like a binary model's).
    """

    task = "continuous"
    columns = ("predicted_change_kpa", "change_pi_low", "change_pi_high", "p_impaired_eih",
               "eih_prediction")

    def __init__(self, distribution: ResidualDistribution, threshold_kpa: float,
                 threshold: float) -> None:
        self.distribution = distribution
        self.threshold_kpa = threshold_kpa
        self.threshold = threshold

    def __call__(self, raw):
        mu = np.asarray(raw, dtype="float64")
        d = self.distribution
        p = d.cdf(self.threshold_kpa - mu)
        return {"predicted_change_kpa": mu, "change_pi_low": mu + d.low_,
                "change_pi_high": mu + d.high_, "p_impaired_eih": p,
                "eih_prediction": np.where(p >= self.threshold, "impaired", "responder")}

    def describe(self):
        return {**self.distribution.describe(), "threshold_kpa": self.threshold_kpa}


class ThreeClassOutputs(OutputMap):
    """Calibrated probabilities of hypoalgesia, no change and hyperalgesia (summing to
    1) and the most probable class (``eih_class``)."""

    task = "three_class"
    columns = ("p_hypoalgesia", "p_no_change", "p_hyperalgesia", "eih_class")

    def __init__(self, calibrator: MulticlassCalibrator) -> None:
        self.calibrator = calibrator

    def __call__(self, raw):
        raw = np.asarray(raw, dtype="float64").reshape(-1, len(THREE_CLASSES))
        p = self.calibrator.predict(raw)
        out = {f"p_{name}": np.ascontiguousarray(p[:, j])
               for j, name in enumerate(THREE_CLASSES)}
        out["eih_class"] = np.asarray(THREE_CLASSES, dtype=object)[np.argmax(p, axis=1)]
        return out

    def probability(self, outputs):
        return np.column_stack([outputs[f"p_{name}"] for name in THREE_CLASSES])

    def explained(self, outputs):
        index = {name: j for j, name in enumerate(THREE_CLASSES)}
        return np.array([index[c] for c in outputs["eih_class"]], dtype=int)

    def describe(self):
        return {"method": self.calibrator.method, **self.calibrator.parameters()}

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

A model trained with ``continuous.interval_method: location_scale`` (the default since
contract v3) has a **heteroscedastic** predictive distribution
(:class:`LocationScaleDistribution`): a scale model beside the mean model (a penalised
linear regression of ``log(|residual| + c)`` on the features, a registered-family
pipeline read by the fitted-model protocol) gives each row its own spread ``s(x)``; the
standardised out-of-fold residuals ``r / s(x)`` (``s`` cross-fitted) are conformalised
within each stratum of ``continuous.stratify_by`` (Mondrian conformal prediction;
Vovk 2005, Lei et al. 2018 section 5.2), so the interval is ``mu + s(x) * [q_lo(g),
q_hi(g)]`` and ``P(change <= t) = F_g((t - mu) / s(x))`` with ``F_g`` the stratum's
smoothed distribution of standardised residuals, partially pooled towards all strata's
(a small stratum's conformal quantiles vary a lot). A row whose stratum is missing or
unseen uses the pooled ones. Models saved before keep their one residual distribution
(``interval_method: conformal``).

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

__all__ = ["THREE_CLASSES", "BinaryOutputs", "ContinuousOutputs", "LocationScaleDistribution",
           "OutputMap", "ResidualDistribution", "ThreeClassOutputs", "conformal_interval",
           "stratum_keys"]

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

    #: Contract columns the map reads from the rows besides the raw score (a continuous
    #: model's scale model and stratifier).
    input_columns: tuple[str, ...] = ()

    def for_batch(self, raw: np.ndarray, batch) -> dict[str, np.ndarray]:
        """The output columns for raw scores of the rows of ``batch`` (a
        :class:`~eihpredict.modeling.ColumnBatch`); maps that need only the raw score
        ignore the rows."""
        return self(raw)

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


def stratum_keys(values, n: int | None = None) -> np.ndarray:
    """Stratum labels of a column's values as an object array of text (``None`` where
    missing); ``values`` ``None`` (the column is absent) gives ``n`` missing labels.

    Examples
    --------
    >>> stratum_keys(np.array(["healthy", None], dtype=object)).tolist()
    ['healthy', None]
    """
    import pandas as pd

    if values is None:
        return np.full(n or 0, None, dtype=object)
    series = pd.Series(np.asarray(values, dtype=object))
    keys = series.astype(str).to_numpy(dtype=object)
    keys[series.isna().to_numpy()] = None
    return keys


class LocationScaleDistribution:
    """Standardised out-of-fold residuals ``(observed - predicted) / s(x)``, pooled and
    per stratum (Mondrian conformal prediction with partial pooling).

    A stratum ``g`` with ``n_g`` residuals gets the weight ``w_g = n_g / (n_g +
    prior_rows)`` on its own distribution and ``1 - w_g`` on the pooled one: its bounds
    are ``w_g`` times its own conformal bounds plus ``1 - w_g`` times the pooled ones,
    its distribution function the same mixture. Many rows: the stratum's own
    (group-conditional) calibration; few: mostly the pooled one, whose quantiles vary
    less (the coverage of a conformal interval from ``n`` residuals has SD about
    ``sqrt(level (1 - level) / n)``: 0.037 at 120 rows). ``prior_rows = 0`` is plain
    Mondrian conformal prediction.

    Parameters
    ----------
    level : float
        Coverage of the prediction interval.
    stratify_by : str or None
        The contract column whose values are the strata (``None``: pooled only).
    prior_rows : float
        Rows' worth of weight on the pooled distribution within a stratum.
    min_stratum : int
        A stratum with fewer residuals uses the pooled distribution alone.

    Attributes
    ----------
    pooled_ : ResidualDistribution
        Of every standardised residual.
    strata_ : dict of str to (ResidualDistribution, float)
        Per stratum with at least ``min_stratum`` residuals: its distribution and weight.
    counts_ : dict of str to int
        Residuals per stratum seen in training.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> g = np.array(["a", "b"] * 5000, dtype=object)
    >>> e = rng.normal(0, np.where(g == "a", 1.0, 2.0))
    >>> d = LocationScaleDistribution(0.8, "group", prior_rows=0).fit(e, g)
    >>> low, high = d.bounds(np.array(["a", "b"], dtype=object), 2)
    >>> round(float((high[1] - low[1]) / (high[0] - low[0])), 1)  # interval widths
    2.0
    """

    def __init__(self, level: float = 0.8, stratify_by: str | None = None,
                 prior_rows: float = 200.0, min_stratum: int = 20) -> None:
        self.level = level
        self.stratify_by = stratify_by
        self.prior_rows = prior_rows
        self.min_stratum = min_stratum

    def fit(self, standardised: np.ndarray, strata: np.ndarray | None = None
            ) -> LocationScaleDistribution:
        e = np.asarray(standardised, dtype="float64")
        self.pooled_ = ResidualDistribution(self.level).fit(e)
        self.strata_: dict[str, tuple[ResidualDistribution, float]] = {}
        self.counts_: dict[str, int] = {}
        if self.stratify_by is not None and strata is not None:
            keys = stratum_keys(strata)
            for key in sorted({k for k in keys if k is not None}):
                rows = keys == key
                n = int(rows.sum())
                self.counts_[key] = n
                if n >= self.min_stratum:
                    self.strata_[key] = (ResidualDistribution(self.level).fit(e[rows]),
                                         n / (n + self.prior_rows))
        return self

    def _parts(self, strata: np.ndarray | None, n: int):
        """``(distribution, weight, rows)`` triples covering ``n`` rows (weight 0: the
        pooled distribution alone)."""
        if not self.strata_ or strata is None:
            return [(self.pooled_, 0.0, np.ones(n, dtype=bool))]
        keys = stratum_keys(strata, n)
        parts, covered = [], np.zeros(n, dtype=bool)
        for key, (dist, weight) in self.strata_.items():
            rows = keys == key
            if rows.any():
                parts.append((dist, weight, rows))
                covered |= rows
        if not covered.all():
            parts.append((self.pooled_, 0.0, ~covered))
        return parts

    def bounds(self, strata: np.ndarray | None, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Per row, the bounds of the standardised residual."""
        low, high = np.empty(n), np.empty(n)
        pooled = self.pooled_
        for dist, w, rows in self._parts(strata, n):
            low[rows] = w * dist.low_ + (1 - w) * pooled.low_
            high[rows] = w * dist.high_ + (1 - w) * pooled.high_
        return low, high

    def cdf(self, t: np.ndarray, strata: np.ndarray | None) -> np.ndarray:
        """Per row, ``P(standardised residual <= t)`` in the row's stratum."""
        t = np.asarray(t, dtype="float64")
        out = np.empty(len(t))
        for dist, w, rows in self._parts(strata, len(t)):
            part = t[rows]
            out[rows] = (w * dist.cdf(part) + (1 - w) * self.pooled_.cdf(part)) if w else \
                self.pooled_.cdf(part)
        return out

    def describe(self) -> dict[str, Any]:
        pooled = self.pooled_.describe()
        strata = {}
        for key, count in self.counts_.items():
            found = self.strata_.get(key)
            if found is None:
                strata[key] = {"n": count, "weight": 0.0}
            else:
                low, high = self.bounds(np.array([key], dtype=object), 1)
                strata[key] = {"n": count, "weight": round(found[1], 4),
                               "interval_low": float(low[0]), "interval_high": float(high[0])}
        return {"method": "conformal: standardised out-of-fold residuals (location-scale)",
                "level": self.level, "n_residuals": pooled["n_residuals"],
                "interval_low": pooled["interval_low"],
                "interval_high": pooled["interval_high"], "units": "scale units",
                "stratify_by": self.stratify_by, "prior_rows": self.prior_rows,
                "strata": strata}


class ContinuousOutputs(OutputMap):
    """Predicted change, its prediction interval, and the derived P(impaired EIH).

    ``p_impaired_eih = P(change <= threshold_kpa)``; ``eih_prediction`` is ``impaired``
    when it is at or above ``threshold`` (a probability chosen like a binary model's).

    With a ``scale`` pipeline (a fitted regression of the log absolute residual, read
    through :class:`~eihpredict.modeling.PipelineScorer`) and a
    :class:`LocationScaleDistribution`, each row has its own spread and stratum; without
    them (models saved before), one :class:`ResidualDistribution` for every row.
    """

    task = "continuous"
    columns = ("predicted_change_kpa", "change_pi_low", "change_pi_high", "p_impaired_eih",
               "eih_prediction")
    #: Class defaults: models saved before the location-scale distribution load as
    #: homoscedastic ones.
    scale = None
    scale_params: dict[str, Any] | None = None

    def __init__(self, distribution: ResidualDistribution | LocationScaleDistribution,
                 threshold_kpa: float, threshold: float, scale=None,
                 scale_params: dict[str, Any] | None = None) -> None:
        self.distribution = distribution
        self.threshold_kpa = threshold_kpa
        self.threshold = threshold
        self.scale = scale
        self.scale_params = scale_params

    @property
    def heteroscedastic(self) -> bool:
        return self.scale is not None

    @property
    def scorer(self):
        """The protocol's reading of the scale pipeline (built once, not pickled)."""
        from ._protocol import PipelineScorer

        scorer = self.__dict__.get("_scorer")
        if scorer is None:
            scorer = self.__dict__["_scorer"] = PipelineScorer(self.scale)
        return scorer

    def __getstate__(self):
        return {k: v for k, v in self.__dict__.items() if k != "_scorer"}

    @property
    def input_columns(self) -> tuple[str, ...]:  # type: ignore[override]
        if not self.heteroscedastic:
            return ()
        stratifier = self.distribution.stratify_by
        return tuple(dict.fromkeys([*self.scorer.input_columns,
                                    *([stratifier] if stratifier else [])]))

    def spread(self, batch) -> np.ndarray:
        """Each row's scale ``s(x) = exp(log-scale model)`` (kPa, up to a constant the
        standardised residuals absorb)."""
        return np.exp(self.scorer.raw_score(batch))

    def __call__(self, raw):
        if self.heteroscedastic:
            raise TypeError("a location-scale continuous model needs the rows for its "
                            "scale model; use for_batch(raw, batch)")
        mu = np.asarray(raw, dtype="float64")
        d = self.distribution
        p = d.cdf(self.threshold_kpa - mu)
        return {"predicted_change_kpa": mu, "change_pi_low": mu + d.low_,
                "change_pi_high": mu + d.high_, "p_impaired_eih": p,
                "eih_prediction": np.where(p >= self.threshold, "impaired", "responder")}

    def for_batch(self, raw, batch):
        if not self.heteroscedastic:
            return self(raw)
        mu = np.asarray(raw, dtype="float64")
        s = self.spread(batch)
        d = self.distribution
        strata = (batch.columns.get(d.stratify_by) if d.stratify_by else None)
        low, high = d.bounds(strata, len(mu))
        p = d.cdf((self.threshold_kpa - mu) / s, strata)
        return {"predicted_change_kpa": mu, "change_pi_low": mu + s * low,
                "change_pi_high": mu + s * high, "p_impaired_eih": p,
                "eih_prediction": np.where(p >= self.threshold, "impaired", "responder")}

    def describe(self):
        described = {**self.distribution.describe(), "threshold_kpa": self.threshold_kpa,
                     "interval_method": ("location_scale" if self.heteroscedastic
                                         else "conformal")}
        if self.heteroscedastic:
            described["scale_model"] = {"target": "log(|out-of-fold residual| + c)",
                                        **(self.scale_params or {}),
                                        "features": len(self.scorer.feature_names)}
        return described


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

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
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import ndtr

from ._calibration import Calibrator, MulticlassCalibrator
from ._external import THREE_CLASSES as _EXTERNAL_CLASSES

__all__ = ["THREE_CLASSES", "BinaryOutputs", "ContinuousOutputs", "LocationScaleDistribution",
           "OutputMap", "ResidualDistribution", "StratumFactors", "ThreeClassOutputs",
           "conformal_interval", "stratum_factors", "stratum_keys"]

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


@dataclass(frozen=True)
class StratumFactors:
    """Empirical-Bayes spread factors per stratum (:func:`stratum_factors`)."""

    factors: dict[str, float]
    counts: dict[str, int]
    between_variance: float

    def of(self, keys: np.ndarray | None, n: int) -> np.ndarray:
        """Each row's factor (1 where its stratum is missing, small or unseen)."""
        return _per_row(self.factors, keys, n)


def _per_row(factors: dict[str, float], keys: np.ndarray | None, n: int) -> np.ndarray:
    """Each row's stratum factor from ``factors`` (1 where the key is absent)."""
    f = np.ones(n)
    if keys is not None:
        for key, factor in factors.items():
            f[keys == key] = factor
    return f


def _stratum_rows(keys: np.ndarray | None, min_stratum: int
                  ) -> tuple[dict[str, int], dict[str, np.ndarray]]:
    """Rows per stratum key (sorted) and the row masks of those with at least
    ``min_stratum`` rows."""
    counts: dict[str, int] = {}
    rows_of: dict[str, np.ndarray] = {}
    for key in sorted({k for k in keys if k is not None} if keys is not None else ()):
        rows = keys == key
        counts[key] = int(rows.sum())
        if counts[key] >= min_stratum:
            rows_of[key] = rows
    return counts, rows_of


def stratum_factors(residuals: np.ndarray, keys: np.ndarray | None,
                    min_stratum: int = 20, floor_rows: float = 200.0) -> StratumFactors:
    """Each stratum's spread relative to all rows', shrunk by how much strata differ.

    ``l_g = log(mean |r - median(r)| in g / over all rows)``, with sampling variance
    ``v_g = CV^2 / n_g`` (``CV`` of the absolute deviations over all rows, so heavy
    tails count); ``tau^2`` = the DerSimonian-Laird variance of the true ``l_g`` around
    their precision-weighted centre ``c``; the factor is ``exp(w_g (l_g - c))`` with
    ``w_g = max(tau^2 / (tau^2 + v_g), n_g / (n_g + floor_rows))``: the empirical-Bayes
    weight, but at least a ``floor_rows`` prior's (one deviating stratum among several
    barely raises ``tau^2``, which would pool it almost entirely). Strata with fewer than
    ``min_stratum`` rows, missing or unseen keys: factor 1 (fewer than two strata: all 1).

    Examples
    --------
    >>> r = np.random.default_rng(0).normal(0, [1.0, 2.0] * 2000)
    >>> f = stratum_factors(r, np.array(["a", "b"] * 2000, dtype=object)).factors
    >>> round(f["b"] / f["a"], 1)
    2.0
    """
    r = np.asarray(residuals, dtype="float64")
    counts, rows_of = _stratum_rows(keys, min_stratum)
    deviation = np.abs(r - np.median(r))
    mean = float(deviation.mean())
    if len(rows_of) < 2 or mean <= 0:
        return StratumFactors(dict.fromkeys(rows_of, 1.0), counts, 0.0)
    cv2 = float(deviation.var() / mean**2) or 1.0
    n = np.array([rows.sum() for rows in rows_of.values()], dtype="float64")
    log_spread = np.log(np.maximum(
        [deviation[rows].mean() / mean for rows in rows_of.values()], 1e-12))
    v = cv2 / n
    w = 1 / v
    centre = float(np.sum(w * log_spread) / np.sum(w))
    q = float(np.sum(w * (log_spread - centre) ** 2))
    tau2 = max(0.0, (q - (len(n) - 1)) / (np.sum(w) - np.sum(w**2) / np.sum(w)))
    # shrunk towards the strata's precision-weighted centre, which is the factor 1 (a
    # common factor is absorbed by the pooled quantiles; unseen strata get the centre)
    weight = np.maximum(tau2 / (tau2 + v), n / (n + floor_rows))
    return StratumFactors({key: float(np.exp(wg * (lg - centre)))
                           for key, wg, lg in zip(rows_of, weight, log_spread, strict=True)},
                          counts, tau2)


class LocationScaleDistribution:
    """Standardised out-of-fold residuals ``e = (observed - predicted) / s(x)``, with a
    spread factor per stratum (Mondrian calibration with partial pooling).

    Empirical-Bayes stratum scales (the default, ``prior_rows=None``): each stratum
    ``g`` has a factor ``f_g`` (:func:`stratum_factors`: its own spread relative to all
    rows', shrunk towards 1 by how much the strata differ beyond chance), from ``e``:
    the spread by stratum the scale model left. The residuals divided by their
    stratum's factor are pooled into one conformal distribution ``F`` (every row's:
    its quantiles vary least), and a row of stratum
    ``g`` gets the bounds ``f_g * [q_low, q_high]`` and ``P(e <= t) = F(t / f_g)``.
    Each stratum takes at least a 200-row prior's share of its own spread (``n_g /
    (n_g + 200)``), more when the strata differ beyond chance: a stratum that really
    varies more gets most of its own spread, the more the more rows it has. A
    stratum's own conformal bounds alone would vary much more: the coverage of an
    interval from ``n`` residuals has SD about ``sqrt(level (1 - level) / n)``, 0.040
    at 100 rows (``python -m benchmarks.stratum_pooling`` compares the rules).

    A number ``prior_rows`` selects the rule of models saved by the previous release:
    the stratum's own conformal distribution with weight ``n_g / (n_g + prior_rows)``,
    mixed with the pooled one.

    Parameters
    ----------
    level : float
        Coverage of the prediction interval.
    stratify_by : str or None
        The contract column whose values are the strata (``None``: pooled only).
    prior_rows : float or None
        ``None``: empirical-Bayes stratum scales (above); a number: the mixture rule.
    min_stratum : int
        A stratum with fewer residuals gets no factor of its own (``f = 1``).

    Attributes
    ----------
    pooled_ : ResidualDistribution
        Of every standardised residual (divided by its stratum's factor).
    factors_ : dict of str to float
        Per stratum with at least ``min_stratum`` residuals, its factor ``f_g``
        (``None`` under the mixture rule).
    strata_ : dict of str to (ResidualDistribution, float)
        The mixture rule's per-stratum distribution and weight (empty otherwise).
    counts_ : dict of str to int
        Residuals per stratum seen in training.
    between_strata_variance_ : float or None
        ``tau^2`` of the log spreads (``None`` under the mixture rule).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> g = np.array(["a", "b"] * 5000, dtype=object)
    >>> e = rng.normal(0, np.where(g == "a", 1.0, 2.0))
    >>> d = LocationScaleDistribution(0.8, "group").fit(e, g)
    >>> low, high = d.bounds(np.array(["a", "b"], dtype=object), 2)
    >>> round(float((high[1] - low[1]) / (high[0] - low[0])), 1)  # interval widths
    2.0
    >>> six = np.array(list("abcdef") * 100, dtype=object)  # 100 rows each, no difference
    >>> same = LocationScaleDistribution(0.8, "group").fit(
    ...     np.random.default_rng(1).normal(0, 1, 600), six)
    >>> same.between_strata_variance_, max(abs(f - 1) for f in same.factors_.values()) < 0.05
    (0.0, True)
    """

    #: Class defaults for models saved before the empirical-Bayes stratum scales: they
    #: load with their fitted mixture (``prior_rows`` 200, ``strata_``).
    prior_rows: float | None = 200.0
    factors_: dict[str, float] | None = None
    between_strata_variance_: float | None = None

    def __init__(self, level: float = 0.8, stratify_by: str | None = None,
                 prior_rows: float | None = None, min_stratum: int = 20) -> None:
        self.level = level
        self.stratify_by = stratify_by
        self.prior_rows = prior_rows
        self.min_stratum = min_stratum

    def fit(self, standardised: np.ndarray, strata: np.ndarray | None = None
            ) -> LocationScaleDistribution:
        """Fit on out-of-fold residuals divided by their (cross-fitted) scale ``s(x)``."""
        e = np.asarray(standardised, dtype="float64")
        self.strata_: dict[str, tuple[ResidualDistribution, float]] = {}
        keys = (stratum_keys(strata) if self.stratify_by is not None and strata is not None
                else None)
        if self.prior_rows is not None:  # the mixture rule of models saved before
            self.factors_ = self.between_strata_variance_ = None
            self.pooled_ = ResidualDistribution(self.level).fit(e)
            self.counts_, rows_of = _stratum_rows(keys, self.min_stratum)
            for key, rows in rows_of.items():
                n = self.counts_[key]
                self.strata_[key] = (ResidualDistribution(self.level).fit(e[rows]),
                                     n / (n + self.prior_rows))
            return self
        factors = stratum_factors(e, keys, self.min_stratum)
        self.factors_ = dict(factors.factors)
        self.counts_ = dict(factors.counts)
        self.between_strata_variance_ = factors.between_variance
        self.pooled_ = ResidualDistribution(self.level).fit(e / factors.of(keys, len(e)))
        return self

    def _factor(self, strata: np.ndarray | None, n: int) -> np.ndarray:
        """Each row's stratum factor (1 where the stratum is missing or unseen)."""
        if not self.factors_ or strata is None:
            return np.ones(n)
        return _per_row(self.factors_, stratum_keys(strata, n), n)

    def _parts(self, strata: np.ndarray | None, n: int):
        """The mixture rule's ``(distribution, weight, rows)`` triples covering ``n``
        rows (weight 0: the pooled distribution alone)."""
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
        pooled = self.pooled_
        if self.factors_ is not None:
            f = self._factor(strata, n)
            return f * pooled.low_, f * pooled.high_
        low, high = np.empty(n), np.empty(n)
        for dist, w, rows in self._parts(strata, n):
            low[rows] = w * dist.low_ + (1 - w) * pooled.low_
            high[rows] = w * dist.high_ + (1 - w) * pooled.high_
        return low, high

    def cdf(self, t: np.ndarray, strata: np.ndarray | None) -> np.ndarray:
        """Per row, ``P(standardised residual <= t)`` in the row's stratum."""
        t = np.asarray(t, dtype="float64")
        if self.factors_ is not None:
            return self.pooled_.cdf(t / self._factor(strata, len(t)))
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
            low, high = self.bounds(np.array([key], dtype=object), 1)
            if self.factors_ is not None:
                factor = self.factors_.get(key)
                strata[key] = {"n": count, "factor": round(factor or 1.0, 4),
                               "own_factor": factor is not None,
                               "interval_low": float(low[0]), "interval_high": float(high[0])}
                continue
            found = self.strata_.get(key)
            strata[key] = ({"n": count, "weight": 0.0} if found is None else
                           {"n": count, "weight": round(found[1], 4),
                            "interval_low": float(low[0]), "interval_high": float(high[0])})
        return {"method": "conformal: standardised out-of-fold residuals (location-scale)",
                "level": self.level, "n_residuals": pooled["n_residuals"],
                "interval_low": pooled["interval_low"],
                "interval_high": pooled["interval_high"], "units": "scale units",
                "stratify_by": self.stratify_by,
                "pooling": ("empirical_bayes_scale" if self.factors_ is not None
                            else "fixed_prior_rows"),
                "prior_rows": self.prior_rows,
                "between_strata_variance": self.between_strata_variance_,
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

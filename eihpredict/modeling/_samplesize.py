"""Minimum sample size to develop a prediction model for a binary outcome.

Implements the three criteria of Riley et al. (BMJ 2020;368:m441; Stat Med
2019;38:1276-1296), with the anticipated Cox-Snell R2 derived from an anticipated
C-statistic as in Riley, Van Calster & Collins (Stat Med 2021;40:859-864;
"approximate_R2" in the pmsampsize software), computed here by deterministic
quadrature instead of a random simulation of a million rows:

1. expected uniform shrinkage ``S >= 0.9``: ``n = p / ((S - 1) ln(1 - R2cs / S))``;
2. optimism in Nagelkerke R2 at most ``delta = 0.05``: the same formula with
   ``S = R2cs / (R2cs + delta * max(R2cs))``, ``max(R2cs) = 1 - (phi^phi (1-phi)^(1-phi))^2``;
3. the overall risk estimated within ``+/- 0.05``: ``n = (1.96 / 0.05)^2 phi (1 - phi)``.

The minimum is the largest of the three (rounded up). pmsampsize itself is GPL and
pins pandas < 3, so it is not a dependency; the worked examples of the papers are in
``tests/modeling/test_samplesize.py``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy.special import expit, ndtri

__all__ = ["SampleSize", "cox_snell_r2_from_c", "minimum_sample_size"]


def cox_snell_r2_from_c(c_statistic: float, prevalence: float, points: int = 20_000) -> float:
    """Anticipated Cox-Snell R2 of a model with the given C-statistic and prevalence.

    The linear predictor is N(0, 1) in non-events and N(mu, 1) in events with
    ``mu = sqrt(2) * Phi^-1(C)``; a logistic model of the outcome on it is fitted to
    quantile points of both normals (weights = outcome shares), and
    ``R2cs = 1 - exp(-LR / n)``.

    Examples
    --------
    >>> round(cox_snell_r2_from_c(0.75, 0.2), 3)
    0.126
    """
    if not 0.5 < c_statistic < 1:
        raise ValueError(f"Got c_statistic={c_statistic!r}; expected a number in (0.5, 1).")
    if not 0 < prevalence < 1:
        raise ValueError(f"Got prevalence={prevalence!r}; expected a number in (0, 1).")
    mu = math.sqrt(2) * ndtri(c_statistic)
    q = ndtri((np.arange(points) + 0.5) / points)
    x = np.r_[q, q + mu]
    y = np.r_[np.zeros(points), np.ones(points)]
    w = np.r_[np.full(points, (1 - prevalence) / points), np.full(points, prevalence / points)]
    a, b = 0.0, 0.0
    for _ in range(50):
        p = expit(a + b * x)
        r = w * (y - p)
        h = w * p * (1 - p)
        grad = np.array([r.sum(), (r * x).sum()])
        hess = np.array([[h.sum(), (h * x).sum()], [(h * x).sum(), (h * x * x).sum()]])
        step = np.linalg.solve(hess, grad)
        a, b = a + step[0], b + step[1]
        if np.abs(step).max() < 1e-12:
            break
    p = np.clip(expit(a + b * x), 1e-15, 1 - 1e-15)
    ll_model = np.sum(w * (y * np.log(p) + (1 - y) * np.log(1 - p)))
    ll_null = prevalence * math.log(prevalence) + (1 - prevalence) * math.log(1 - prevalence)
    return float(1 - math.exp(-2 * (ll_model - ll_null)))


@dataclass(frozen=True)
class SampleSize:
    """Result of :func:`minimum_sample_size`."""

    n_shrinkage: int
    n_optimism: int
    n_risk: int
    minimum_n: int
    minimum_events: int
    events_per_parameter: float
    r2_cox_snell: float
    max_r2_cox_snell: float
    shrinkage: float
    prevalence: float
    c_statistic: float
    parameters: int

    def to_dict(self) -> dict:
        return asdict(self)


def minimum_sample_size(prevalence: float, c_statistic: float, parameters: int, *,
                        shrinkage: float = 0.9, optimism: float = 0.05,
                        margin: float = 0.05) -> SampleSize:
    """Riley et al. minimum development sample size for a binary outcome.

    Parameters
    ----------
    prevalence : float
        Anticipated outcome proportion.
    c_statistic : float
        Anticipated C-statistic (AUROC).
    parameters : int
        Number of candidate predictor parameters.

    Examples
    --------
    >>> result = minimum_sample_size(0.2, 0.75, 30)
    >>> result.minimum_n, result.n_shrinkage > result.n_optimism > result.n_risk
    (1983, True)
    """
    if parameters < 1:
        raise ValueError(f"Got parameters={parameters!r}; expected a positive integer.")
    r2 = cox_snell_r2_from_c(c_statistic, prevalence)
    max_r2 = 1 - (prevalence**prevalence * (1 - prevalence) ** (1 - prevalence)) ** 2

    def n_for(s: float) -> int:
        return math.ceil(parameters / ((s - 1) * math.log(1 - r2 / s)))

    n1 = n_for(shrinkage)
    s2 = r2 / (r2 + optimism * max_r2)
    n2 = n_for(s2)
    n3 = math.ceil((1.96 / margin) ** 2 * prevalence * (1 - prevalence))
    n = max(n1, n2, n3)
    return SampleSize(
        n_shrinkage=n1, n_optimism=n2, n_risk=n3, minimum_n=n,
        minimum_events=math.ceil(n * prevalence),
        events_per_parameter=round(n * prevalence / parameters, 2),
        r2_cox_snell=round(r2, 4), max_r2_cox_snell=round(max_r2, 4),
        shrinkage=round(max(shrinkage, s2), 4), prevalence=prevalence,
        c_statistic=c_statistic, parameters=parameters,
    )

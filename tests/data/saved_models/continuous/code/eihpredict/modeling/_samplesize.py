"""Minimum sample sizes to develop and to validate a clinical prediction model.

Development (Riley et al., Stat Med 2019;38:1262-1275 and 1276-1296; BMJ
2020;368:m441), computed as the ``pmsampsize`` software (R package 1.1.3) computes it:

- binary outcome, :func:`minimum_sample_size`: the anticipated Cox-Snell R2 comes from
  the user directly, from a Nagelkerke R2 (``R2cs = R2nag * max(R2cs)``) or from an
  anticipated C-statistic (Riley, Van Calster & Collins, Stat Med 2021;40:859-864);
  three criteria: (1) expected uniform shrinkage at least ``shrinkage``,
  ``n = p / ((S - 1) ln(1 - R2cs / S))``; (2) optimism in Nagelkerke R2 at most
  ``delta``, the same formula with ``S = R2cs / (R2cs + delta * max(R2cs))``; (3) the
  overall risk within ``+/- margin``, ``n = (1.96 / margin)^2 phi (1 - phi)``;
- continuous outcome, :func:`minimum_sample_size_continuous`: four criteria
  (shrinkage, optimism in R2, residual SD and intercept each within a multiplicative
  margin of error).

External validation of a binary model (Riley et al., Stat Med 2021;40:4230-4251), as
``pmvalsampsize`` 0.1.0 defines it, :func:`validation_sample_size`: rows needed for a
precise O/E, calibration slope, C-statistic and (optionally) standardised net benefit.

Where these functions differ from the R packages it is on purpose and stated in the
docstring (the R packages simulate where a one-dimensional integral is exact, and step
a standard error on a 0.0001 grid where a closed form exists). The reference values
are in ``tests/data/r/reference_values.json`` (``tests/data/r/reference.R``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from numpy.polynomial.hermite_e import hermegauss
from numpy.typing import ArrayLike
from scipy.special import expit, log_expit, ndtri
from scipy.stats import chi2
from scipy.stats import t as student_t

__all__ = [
    "ContinuousSampleSize",
    "SampleSize",
    "ValidationSampleSize",
    "cox_snell_r2_from_c",
    "max_cox_snell_r2",
    "minimum_sample_size",
    "minimum_sample_size_continuous",
    "validation_sample_size",
]

Z95 = 1.96  # the papers and both R packages use 1.96, not qnorm(0.975)
_NODES, _WEIGHTS = hermegauss(120)
_WEIGHTS = _WEIGHTS / _WEIGHTS.sum()  # E[f(X)], X ~ N(0, 1)  ~  sum(w * f(nodes))


def _show(value) -> str:
    return repr(value.item() if isinstance(value, np.generic) else value)


def _check_probability(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)) \
            or not math.isfinite(value) or not 0 < value < 1:
        raise ValueError(f"Got {name}={_show(value)}; expected a number strictly between 0 "
                         "and 1.")
    return float(value)


def _check_parameters(parameters: int | None) -> int:
    if parameters is None:
        raise ValueError("Got parameters=None; the number of candidate predictor parameters "
                         "is required.")
    if isinstance(parameters, bool) or not isinstance(parameters, (int, np.integer)) \
            or parameters < 1:
        raise ValueError(f"Got parameters={parameters!r}; expected a positive integer (the "
                         "number of candidate predictor parameters).")
    return int(parameters)


def _check_c(c_statistic: float) -> float:
    if isinstance(c_statistic, bool) or not isinstance(c_statistic, (int, float, np.floating)) \
            or not math.isfinite(c_statistic) or not 0.5 < c_statistic < 1:
        raise ValueError(f"Got c_statistic={c_statistic!r}; expected a number strictly between "
                         "0.5 and 1.")
    return float(c_statistic)


def max_cox_snell_r2(prevalence: float) -> float:
    """Largest Cox-Snell R2 a model can reach at this outcome proportion.

    ``max(R2cs) = 1 - (phi^phi (1 - phi)^(1 - phi))^2`` (Riley et al. 2019, eq. 23).

    Examples
    --------
    >>> round(max_cox_snell_r2(0.174), 4)
    0.6032
    """
    phi = _check_probability("prevalence", prevalence)
    return 1 - math.exp(2 * (phi * math.log(phi) + (1 - phi) * math.log(1 - phi)))


def cox_snell_r2_from_c(c_statistic: float, prevalence: float) -> float:
    """Anticipated Cox-Snell R2 of a model with the given C-statistic and prevalence.

    Riley, Van Calster & Collins (Stat Med 2021;40:859-864): the linear predictor is
    N(0, 1) in non-events and N(mu, 1) in events, ``mu = sqrt(2) Phi^-1(C)``. For two
    normals with one variance the logistic model of the outcome on it is exact
    (``logit P = logit(phi) - mu^2 / 2 + mu x``), so the population Cox-Snell R2,
    ``1 - exp(-2 (E[loglik] - loglik_null))``, is a one-dimensional integral, computed
    here by 120-point Gauss-Hermite quadrature. pmsampsize estimates the same quantity
    by fitting a logistic regression to one simulated sample of a million rows (seed
    123456), which is off by a few 1e-4 (0.2902 instead of 0.29095 at C = 0.89,
    prevalence 0.174).

    Examples
    --------
    >>> round(cox_snell_r2_from_c(0.89, 0.174), 4)
    0.291
    """
    c = _check_c(c_statistic)
    phi = _check_probability("prevalence", prevalence)
    mu = math.sqrt(2) * float(ndtri(c))
    a = math.log(phi / (1 - phi)) - mu * mu / 2
    ll_events = np.sum(_WEIGHTS * log_expit(a + mu * (_NODES + mu)))
    ll_nonevents = np.sum(_WEIGHTS * log_expit(-(a + mu * _NODES)))
    ll_model = phi * ll_events + (1 - phi) * ll_nonevents
    ll_null = phi * math.log(phi) + (1 - phi) * math.log(1 - phi)
    return float(1 - math.exp(-2 * (ll_model - ll_null)))


def _table(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows).set_index("criterion")


@dataclass(frozen=True)
class SampleSize:
    """Result of :func:`minimum_sample_size` (binary outcome).

    Attributes
    ----------
    n_shrinkage, n_optimism, n_risk : int
        Rows needed by criterion 1 (expected shrinkage), 2 (optimism in Nagelkerke R2)
        and 3 (overall risk within ``margin``).
    minimum_n : int
        The largest of the three: the minimum sample size.
    minimum_events : int
        ``ceil(minimum_n * prevalence)``.
    events_per_parameter : float
        ``minimum_n * prevalence / parameters``, rounded to 2 decimals.
    r2_cox_snell, max_r2_cox_snell, r2_nagelkerke : float
        Anticipated Cox-Snell R2 (as used), its maximum at this prevalence, and the
        Nagelkerke R2 it corresponds to.
    shrinkage : float
        Expected shrinkage at ``minimum_n`` as pmsampsize reports it: the larger of the
        target and the shrinkage implied by criterion 2.
    shrinkage_target, margin, delta : float
        The targets used.
    r2_source : str
        ``"c_statistic"``, ``"r2_cox_snell"`` or ``"r2_nagelkerke"``.
    """

    n_shrinkage: int
    n_optimism: int
    n_risk: int
    minimum_n: int
    minimum_events: int
    events_per_parameter: float
    r2_cox_snell: float
    max_r2_cox_snell: float
    r2_nagelkerke: float
    shrinkage: float
    shrinkage_optimism: float
    shrinkage_target: float
    margin: float
    delta: float
    prevalence: float
    c_statistic: float | None
    parameters: int
    r2_source: str

    def to_dict(self) -> dict:
        """Plain dict (JSON-serialisable)."""
        return asdict(self)

    def criteria(self) -> pd.DataFrame:
        """One row per criterion and one for the minimum, like pmsampsize's table.

        Columns: ``description``, ``n``, ``shrinkage``, ``events``,
        ``events_per_parameter``, indexed by ``criterion``.
        """
        rows = [
            (1, f"expected shrinkage >= {self.shrinkage_target:g}", self.n_shrinkage,
             self.shrinkage_target),
            (2, f"optimism in Nagelkerke R2 <= {self.delta:g}", self.n_optimism,
             self.shrinkage_optimism),
            (3, f"overall risk within +/- {self.margin:g}", self.n_risk, self.shrinkage),
            ("minimum", "largest of criteria 1-3", self.minimum_n, self.shrinkage),
        ]
        return _table([{
            "criterion": str(c), "description": d, "n": n, "shrinkage": s,
            "events": n * self.prevalence,
            "events_per_parameter": round(n * self.prevalence / self.parameters, 2),
        } for c, d, n, s in rows])


def _n_binary(parameters: int, r2: float, s: float) -> int:
    return math.ceil(parameters / ((s - 1) * math.log(1 - r2 / s)))


def minimum_sample_size(prevalence: float, c_statistic: float | None = None,
                        parameters: int | None = None, *, r2_cox_snell: float | None = None,
                        r2_nagelkerke: float | None = None, shrinkage: float = 0.9,
                        margin: float = 0.05, delta: float = 0.05) -> SampleSize:
    """Riley et al. minimum sample size to develop a model for a binary outcome.

    Give exactly one of ``c_statistic``, ``r2_cox_snell`` and ``r2_nagelkerke``. As
    pmsampsize does, an R2 derived from a C-statistic is rounded to 4 decimals and one
    derived from a Nagelkerke R2 to 3 decimals before use, so the results reproduce
    pmsampsize's (its C-statistic route simulates; see :func:`cox_snell_r2_from_c`).

    Parameters
    ----------
    prevalence : float
        Anticipated outcome proportion, strictly between 0 and 1.
    c_statistic : float, optional
        Anticipated C-statistic (AUROC), strictly between 0.5 and 1.
    parameters : int
        Number of candidate predictor parameters (a categorical predictor with k
        levels counts k - 1; a spline counts its degrees of freedom).
    r2_cox_snell : float, optional
        Anticipated Cox-Snell R2, below its maximum for the prevalence.
    r2_nagelkerke : float, optional
        Anticipated Nagelkerke R2, strictly between 0 and 1.
    shrinkage : float, default 0.9
        Target expected uniform shrinkage, strictly between 0 and 1 (0.9: predictor
        effects need shrinking by at most 10 %).
    margin : float, default 0.05
        Absolute margin of error for the overall risk (criterion 3).
    delta : float, default 0.05
        Largest acceptable optimism in the Nagelkerke R2 (criterion 2).

    Returns
    -------
    SampleSize

    Raises
    ------
    ValueError
        With one line naming the argument, for any impossible input: prevalence not in
        (0, 1), C not in (0.5, 1), an R2 at or above its maximum, shrinkage not in
        (0, 1) or not above the anticipated R2, parameters < 1, margin or delta out of
        range, or not exactly one of the three performance inputs.

    Examples
    --------
    pmsampsize's documented example (prevalence 0.174, 24 parameters):

    >>> minimum_sample_size(0.174, parameters=24, r2_cox_snell=0.288).minimum_n
    662
    >>> result = minimum_sample_size(0.174, 0.89, 24)
    >>> result.r2_cox_snell, result.minimum_n, result.minimum_events
    (0.291, 660, 115)
    """
    phi = _check_probability("prevalence", prevalence)
    parameters = _check_parameters(parameters)
    given = [name for name, value in (("c_statistic", c_statistic),
                                      ("r2_cox_snell", r2_cox_snell),
                                      ("r2_nagelkerke", r2_nagelkerke)) if value is not None]
    if len(given) != 1:
        raise ValueError(f"Got {' and '.join(given) or 'none'}; expected exactly one of "
                         "c_statistic, r2_cox_snell and r2_nagelkerke.")
    shrinkage = _check_probability("shrinkage", shrinkage)
    margin = _check_probability("margin", margin)
    delta = _check_probability("delta", delta)
    max_r2 = max_cox_snell_r2(phi)
    if c_statistic is not None:
        r2 = round(cox_snell_r2_from_c(c_statistic, phi), 4)
    elif r2_nagelkerke is not None:
        r2 = round(_check_probability("r2_nagelkerke", r2_nagelkerke) * max_r2, 3)
        if r2 <= 0:
            raise ValueError(f"Got r2_nagelkerke={r2_nagelkerke!r}; it gives a Cox-Snell R2 "
                             "of 0 at 3 decimals, too small to plan with.")
    else:
        r2 = _check_probability("r2_cox_snell", r2_cox_snell)
    if r2 >= max_r2:
        raise ValueError(f"Got r2_cox_snell={r2!r}; expected less than its maximum "
                         f"{max_r2:.4f} at prevalence {phi:g}.")
    if shrinkage <= r2:
        raise ValueError(f"Got shrinkage={shrinkage!r}; expected more than the anticipated "
                         f"Cox-Snell R2 ({r2:g}), or criterion 1 is undefined.")
    s_optimism = r2 / (r2 + delta * max_r2)
    if s_optimism <= r2:
        raise ValueError(f"Got delta={delta!r}; expected less than "
                         f"{(1 - r2) / max_r2:.4f} for this R2, or criterion 2 is undefined.")
    n1 = _n_binary(parameters, r2, shrinkage)
    n2 = _n_binary(parameters, r2, s_optimism)
    n3 = math.ceil((Z95 / margin) ** 2 * phi * (1 - phi))
    n = max(n1, n2, n3)
    return SampleSize(
        n_shrinkage=n1, n_optimism=n2, n_risk=n3, minimum_n=n,
        minimum_events=math.ceil(n * phi),
        events_per_parameter=round(n * phi / parameters, 2),
        r2_cox_snell=r2, max_r2_cox_snell=max_r2, r2_nagelkerke=r2 / max_r2,
        shrinkage=max(shrinkage, s_optimism), shrinkage_optimism=s_optimism,
        shrinkage_target=shrinkage, margin=margin, delta=delta, prevalence=phi,
        c_statistic=None if c_statistic is None else float(c_statistic),
        parameters=parameters, r2_source=given[0],
    )


@dataclass(frozen=True)
class ContinuousSampleSize:
    """Result of :func:`minimum_sample_size_continuous`.

    Attributes
    ----------
    n_shrinkage, n_optimism, n_residual_sd, n_intercept : int
        Rows needed by criterion 1 (expected shrinkage), 2 (optimism in R2), 3
        (residual SD within the multiplicative margin of error) and 4 (intercept, the
        mean outcome, within it; searched from the largest of criteria 1-3 upwards, as
        pmsampsize does).
    minimum_n : int
    subjects_per_parameter : float
    shrinkage : float
        Expected shrinkage at ``minimum_n`` (van Houwelingen's heuristic).
    intercept_ci : tuple of float
        95 % interval of the intercept at ``minimum_n``.
    """

    n_shrinkage: int
    n_optimism: int
    n_residual_sd: int
    n_intercept: int
    minimum_n: int
    subjects_per_parameter: float
    shrinkage: float
    intercept_ci: tuple[float, float]
    r2: float
    parameters: int
    intercept: float
    sd: float
    shrinkage_target: float
    mmoe: float
    delta: float

    def to_dict(self) -> dict:
        """Plain dict (JSON-serialisable)."""
        return asdict(self)

    def criteria(self) -> pd.DataFrame:
        """One row per criterion and one for the minimum (like pmsampsize's table)."""
        rows = [
            (1, f"expected shrinkage >= {self.shrinkage_target:g}", self.n_shrinkage),
            (2, f"optimism in R2 <= {self.delta:g}", self.n_optimism),
            (3, f"residual SD within MMOE {self.mmoe:g}", self.n_residual_sd),
            (4, f"intercept within MMOE {self.mmoe:g}", self.n_intercept),
            ("minimum", "largest of criteria 1-4", self.minimum_n),
        ]
        return _table([{
            "criterion": str(c), "description": d, "n": n,
            "shrinkage": _shrinkage_continuous(n, self.parameters, self.r2),
            "subjects_per_parameter": round(n / self.parameters, 2),
        } for c, d, n in rows])


def _shrinkage_continuous(n, parameters: int, r2: float):
    """Van Houwelingen's expected shrinkage at ``n`` rows (Riley et al. 2019, part I)."""
    n = np.asarray(n, dtype="float64")
    r2_apparent = (r2 * (n - parameters - 1) + parameters) / (n - 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return 1 + (parameters - 2) / (n * np.log(1 - r2_apparent))


def _first_n(condition, start: int, limit: int = 10**8) -> int:
    """Smallest integer n >= start with ``condition(n_array)`` true (growing chunks)."""
    lo, chunk = start, 1024
    while lo < limit:
        n = np.arange(lo, lo + chunk)
        ok = np.flatnonzero(condition(n))
        if len(ok):
            return int(n[ok[0]])
        lo += chunk
        chunk = min(chunk * 2, 1 << 20)
    raise ValueError("No sample size up to 100 million rows meets this criterion; the inputs "
                     "are too extreme to plan with.")


def minimum_sample_size_continuous(r2: float, parameters: int, intercept: float, sd: float, *,
                                   shrinkage: float = 0.9, mmoe: float = 1.1,
                                   delta: float = 0.05) -> ContinuousSampleSize:
    """Riley et al. (Stat Med 2019, part I) minimum sample size, continuous outcome.

    Criteria: (1) expected shrinkage ``1 + (p - 2) / (n ln(1 - R2app)) >= shrinkage``
    with ``R2app = (R2 (n - p - 1) + p) / (n - 1)``; (2) ``R2app - R2 <= delta``,
    ``n = 1 + p (1 - R2) / delta``; (3) the residual SD within a multiplicative margin
    of error ``mmoe`` (both chi-square ratios ``<= mmoe^2``: ``n = 234 + p`` at 1.1);
    (4) the intercept (mean outcome) within ``mmoe``: upper 95 % limit ``<= mmoe`` times
    it, using ``|intercept|``. pmsampsize's search for criterion 4 stops after one
    step because of a sign slip in its loop; here it searches to the end (the two agree
    whenever criterion 4 is not binding, as in all of pmsampsize's examples). A mean
    outcome near 0 (a change score) makes criterion 4 demand very many rows: it is a
    margin relative to the mean.

    Parameters
    ----------
    r2 : float
        Anticipated (adjusted) R2, strictly between 0 and 1.
    parameters : int
        Number of candidate predictor parameters.
    intercept : float
        Anticipated mean outcome (non-zero).
    sd : float
        Anticipated SD of the outcome (> 0).
    shrinkage : float, default 0.9
    mmoe : float, default 1.1
        Multiplicative margin of error (> 1).
    delta : float, default 0.05
        Largest acceptable optimism in R2.

    Returns
    -------
    ContinuousSampleSize

    Examples
    --------
    pmsampsize's documented example (FEV1: R2 0.2, 25 parameters, mean 1.9, SD 0.6):

    >>> result = minimum_sample_size_continuous(0.2, 25, 1.9, 0.6)
    >>> result.n_shrinkage, result.n_optimism, result.n_residual_sd, result.minimum_n
    (918, 401, 259, 918)
    """
    r2 = _check_probability("r2", r2)
    parameters = _check_parameters(parameters)
    shrinkage = _check_probability("shrinkage", shrinkage)
    delta = _check_probability("delta", delta)
    if not math.isfinite(intercept) or intercept == 0:
        raise ValueError(f"Got intercept={intercept!r}; expected a finite non-zero mean "
                         "outcome (the margin of error is relative to it).")
    if not math.isfinite(sd) or sd <= 0:
        raise ValueError(f"Got sd={sd!r}; expected a positive number.")
    if not math.isfinite(mmoe) or mmoe <= 1:
        raise ValueError(f"Got mmoe={mmoe!r}; expected a number above 1 (1.1 = 10 %).")
    p = parameters
    n1 = _first_n(lambda n: _shrinkage_continuous(n, p, r2) >= shrinkage, p + 2)
    n2 = math.ceil(1 + p * (1 - r2) / delta)
    df3 = _first_n(lambda df: (df / chi2.ppf(0.025, df) <= mmoe**2)
                   & (chi2.ppf(0.975, df) / df <= mmoe**2), 1)
    n3 = df3 + p + 1  # residual df = n - p - 1

    def half_width(n):
        return student_t.ppf(0.975, n - p - 1) * np.sqrt(sd**2 * (1 - r2) / n)

    n4 = _first_n(lambda n: half_width(n) <= (mmoe - 1) * abs(intercept), max(n1, n2, n3))
    n = max(n1, n2, n3, n4)
    hw = float(half_width(n))
    return ContinuousSampleSize(
        n_shrinkage=n1, n_optimism=n2, n_residual_sd=n3, n_intercept=n4, minimum_n=n,
        subjects_per_parameter=round(n / p, 2),
        shrinkage=float(_shrinkage_continuous(n, p, r2)),
        intercept_ci=(intercept - hw, intercept + hw), r2=r2, parameters=p,
        intercept=float(intercept), sd=float(sd), shrinkage_target=shrinkage,
        mmoe=float(mmoe), delta=delta)


@dataclass(frozen=True)
class ValidationSampleSize:
    """Result of :func:`validation_sample_size`.

    Attributes
    ----------
    n_oe, n_slope, n_c : int
        Rows for the target 95 % interval width of O/E, of the calibration slope and of
        the C-statistic.
    n_net_benefit : int or None
        Rows for the target width of the standardised net benefit (when requested).
    minimum_n, minimum_events : int
    se_oe, se_slope, se_c : float
        Standard errors the widths correspond to (SE of ln(O/E) for O/E).
    lp_distribution : str
        How the linear predictor's distribution was given.
    """

    n_oe: int
    n_slope: int
    n_c: int
    n_net_benefit: int | None
    minimum_n: int
    minimum_events: int
    se_oe: float
    se_slope: float
    se_c: float
    se_net_benefit: float | None
    prevalence: float
    c_statistic: float
    oe: float
    oe_ci_width: float
    slope_ci_width: float
    c_ci_width: float
    net_benefit_ci_width: float | None
    lp_distribution: str

    def to_dict(self) -> dict:
        """Plain dict (JSON-serialisable)."""
        return asdict(self)

    def criteria(self) -> pd.DataFrame:
        """One row per criterion and one for the minimum."""
        rows = [("O/E", self.n_oe, self.oe, self.se_oe, self.oe_ci_width),
                ("calibration slope", self.n_slope, 1.0, self.se_slope, self.slope_ci_width),
                ("C-statistic", self.n_c, self.c_statistic, self.se_c, self.c_ci_width)]
        if self.n_net_benefit is not None:
            rows.append(("standardised net benefit", self.n_net_benefit, np.nan,
                         self.se_net_benefit, self.net_benefit_ci_width))
        rows.append(("minimum", self.minimum_n, np.nan, np.nan, np.nan))
        return _table([{"criterion": c, "n": n, "anticipated": v, "se": se, "ci_width": w,
                        "events": n * self.prevalence} for c, n, v, se, w in rows])


def _lp_expectation(f, prevalence: float, c_statistic: float, lp_mean, lp_sd, lp):
    """E[f(LP)] under the anticipated distribution of the linear predictor."""
    if lp is not None:
        lp = np.asarray(lp, dtype="float64").ravel()
        if lp.size < 2 or not np.isfinite(lp).all():
            raise ValueError("Got a linear_predictor sample that is empty or has missing or "
                             "infinite values; expected finite log-odds.")
        return float(np.mean(f(lp))), "sample"
    if lp_mean is not None or lp_sd is not None:
        if lp_mean is None or lp_sd is None or not lp_sd > 0:
            raise ValueError(f"Got lp_mean={lp_mean!r}, lp_sd={lp_sd!r}; expected both, with "
                             "lp_sd > 0.")
        return float(np.sum(_WEIGHTS * f(lp_mean + lp_sd * _NODES))), "normal"
    # A calibrated model with this C: non-events N(m, v), events N(m + v, v),
    # v = 2 Phi^-1(C)^2, m = logit(phi) - v / 2 (pmvalsampsize's "lpcstat", exactly).
    v = 2 * float(ndtri(c_statistic)) ** 2
    m = math.log(prevalence / (1 - prevalence)) - v / 2
    x = math.sqrt(v) * _NODES
    value = (1 - prevalence) * np.sum(_WEIGHTS * f(m + x)) \
        + prevalence * np.sum(_WEIGHTS * f(m + v + x))
    return float(value), "binormal from C"


def _se_c(c: float, phi: float, n):
    """Anticipated SE of the C-statistic at n rows (Newcombe 2006; Riley 2021 eq. 10)."""
    n = np.asarray(n, dtype="float64")
    half = n / 2 - 1
    return np.sqrt(c * (1 - c) * (1 + half * (1 - c) / (2 - c) + half * c / (1 + c))
                   / (n * n * phi * (1 - phi)))


def validation_sample_size(prevalence: float, c_statistic: float, *, oe: float = 1.0,
                           oe_ci_width: float = 0.2, slope_ci_width: float = 0.2,
                           c_ci_width: float = 0.1, lp_mean: float | None = None,
                           lp_sd: float | None = None,
                           linear_predictor: ArrayLike | None = None,
                           threshold: float | None = None, sensitivity: float | None = None,
                           specificity: float | None = None,
                           net_benefit_ci_width: float = 0.2) -> ValidationSampleSize:
    """Riley et al. (2021) minimum sample size to externally validate a binary model.

    Criteria (95 % interval widths): (1) O/E, ``SE(ln O/E) = sqrt((1 - phi) / (n phi))``
    solved exactly for the width ``OE (e^(1.96 se) - e^(-1.96 se))``; (2) calibration
    slope, ``n = I00 / (se^2 (I00 I11 - I01^2))`` with the Fisher information of a
    calibrated model (intercept 0, slope 1) averaged over the anticipated linear
    predictor; (3) C-statistic, smallest n whose anticipated SE (Newcombe 2006) gives the
    width; (4) optionally standardised net benefit at ``threshold`` from the anticipated
    sensitivity and specificity. The linear predictor's distribution is normal
    (``lp_mean``, ``lp_sd``), a sample (``linear_predictor``, e.g. the development
    cohort's log-odds), or by default the calibrated binormal model implied by the
    C-statistic and prevalence. Expectations are exact quadratures, not simulations.

    pmvalsampsize steps SE(ln O/E) up on a 0.0001 grid until the width is reached, so
    its criterion 1 can be one row smaller than the exact solution (905 vs 906 in its
    documented example); its criterion 2 simulates the linear predictor.

    Parameters
    ----------
    prevalence : float
        Anticipated outcome proportion in the validation population.
    c_statistic : float
        Anticipated C-statistic in the validation population.
    oe : float, default 1.0
        Anticipated O/E.
    oe_ci_width, slope_ci_width, c_ci_width, net_benefit_ci_width : float
        Target widths of the 95 % intervals (defaults: pmvalsampsize's).
    lp_mean, lp_sd : float, optional
        Normal distribution of the linear predictor (log-odds).
    linear_predictor : array-like, optional
        A sample of anticipated linear predictors.
    threshold, sensitivity, specificity : float, optional
        For criterion 4 (all three needed).

    Returns
    -------
    ValidationSampleSize

    Examples
    --------
    pmvalsampsize's example (heart valve failure: prevalence 0.018, C 0.8, LP N(-5, 2.5),
    O/E interval width 1):

    >>> r = validation_sample_size(0.018, 0.8, oe_ci_width=1, lp_mean=-5, lp_sd=2.5)
    >>> r.n_oe, r.n_c
    (906, 4252)
    """
    phi = _check_probability("prevalence", prevalence)
    c = _check_c(c_statistic)
    for name, value in (("oe", oe), ("oe_ci_width", oe_ci_width),
                        ("slope_ci_width", slope_ci_width), ("c_ci_width", c_ci_width),
                        ("net_benefit_ci_width", net_benefit_ci_width)):
        if isinstance(value, bool) or not math.isfinite(value) or value <= 0:
            raise ValueError(f"Got {name}={value!r}; expected a positive number.")
    # (1) O/E: width = OE * 2 sinh(1.96 se)
    se_oe = math.asinh(oe_ci_width / (2 * oe)) / Z95
    n_oe = math.ceil((1 - phi) / (phi * se_oe**2))
    # (2) calibration slope

    def info(power):
        return lambda x: expit(x) * expit(-x) * x**power
    i00, kind = _lp_expectation(info(0), phi, c, lp_mean, lp_sd, linear_predictor)
    i01, _ = _lp_expectation(info(1), phi, c, lp_mean, lp_sd, linear_predictor)
    i11, _ = _lp_expectation(info(2), phi, c, lp_mean, lp_sd, linear_predictor)
    se_slope = slope_ci_width / (2 * Z95)
    n_slope = math.ceil(i00 / (se_slope**2 * (i00 * i11 - i01**2)))
    # (3) C-statistic
    n_c = _first_n(lambda n: 2 * Z95 * _se_c(c, phi, n) <= c_ci_width, 2)
    # (4) standardised net benefit
    n_nb = se_nb = None
    nb_inputs = (threshold, sensitivity, specificity)
    if any(v is not None for v in nb_inputs):
        if any(v is None for v in nb_inputs):
            raise ValueError("Got only some of threshold, sensitivity and specificity; "
                             "expected all three for the net-benefit criterion.")
        for name, value in zip(("threshold", "sensitivity", "specificity"), nb_inputs,
                               strict=True):
            _check_probability(name, value)
        w = (1 - phi) / phi * threshold / (1 - threshold)
        se_nb = net_benefit_ci_width / (2 * Z95)
        n_nb = math.ceil((sensitivity * (1 - sensitivity) / phi
                          + w * w * specificity * (1 - specificity) / (1 - phi)
                          + w * w * (1 - specificity) ** 2 / (phi * (1 - phi))) / se_nb**2)
    n = max(n_oe, n_slope, n_c, n_nb or 0)
    return ValidationSampleSize(
        n_oe=n_oe, n_slope=n_slope, n_c=n_c, n_net_benefit=n_nb, minimum_n=n,
        minimum_events=math.ceil(n * phi), se_oe=se_oe, se_slope=se_slope,
        se_c=float(_se_c(c, phi, n_c)), se_net_benefit=se_nb, prevalence=phi,
        c_statistic=c, oe=float(oe), oe_ci_width=float(oe_ci_width),
        slope_ci_width=float(slope_ci_width), c_ci_width=float(c_ci_width),
        net_benefit_ci_width=float(net_benefit_ci_width) if n_nb is not None else None,
        lp_distribution=kind)

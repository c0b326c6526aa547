"""Random-effects meta-analysis of per-site performance (internal-external validation).

For multi-site data, internal-external cross-validation leaves each site out in turn,
validates on it, and pools the per-site C-statistic (logit scale), calibration slope,
calibration-in-the-large and O/E (log scale) with a random-effects model (Debray et al.,
BMJ 2017;356:i6460; Riley et al., BMJ 2016;353:i3140):

- between-site variance ``tau2`` by REML (default; Fisher scoring as metafor's ``rma``)
  or DerSimonian-Laird;
- pooled estimate with a Wald (z) interval, or the Hartung-Knapp-Sidik-Jonkman interval
  (t with k - 1 df, ``hksj=True``; better coverage with few sites);
- heterogeneity: Cochran's Q, I2 (``100 tau2 / (tau2 + s2)``, s2 the typical
  within-site variance, as metafor reports it);
- a 95 % prediction interval for the performance in a new site (Riley, Higgins & Deeks,
  BMJ 2011;342:d549): ``mu +/- t(k-2) sqrt(tau2 + se(mu)^2)``, with the HKSJ standard
  error when ``hksj=True``.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.special import expit, logit
from scipy.stats import chi2
from scipy.stats import t as student_t

from ._stats import as_binary, as_probability, delong, fit_logistic, show, z_value

__all__ = ["MetaAnalysis", "forest_plot", "meta_summary", "pool_site_performance",
           "random_effects_meta", "site_performance"]

logger = logging.getLogger(__name__)

_TRANSFORMS = {"identity": lambda x: x, "expit": expit, "exp": np.exp}


@dataclass(frozen=True)
class MetaAnalysis:
    """Result of :func:`random_effects_meta` (estimates on the analysis scale).

    Attributes
    ----------
    estimate, se, ci_low, ci_high : float
        Pooled estimate, its standard error (HKSJ when ``hksj``) and interval.
    pi_low, pi_high : float
        Prediction interval for a new site (NaN with fewer than 3 sites).
    tau2, tau : float
        Between-site variance and SD.
    i2 : float
        I2 in percent.
    q, q_df, q_pvalue : float
        Cochran's Q test of homogeneity.
    k : int
        Number of sites.
    method : str
        ``"REML"`` or ``"DL"``.
    hksj : bool
    transform : str
        Back-transformation to the natural scale: ``"identity"``, ``"expit"`` (logit C)
        or ``"exp"`` (log O/E).
    studies : DataFrame
        Per-site ``label, estimate, se, ci_low, ci_high, weight`` (weight in percent).
    """

    estimate: float
    se: float
    ci_low: float
    ci_high: float
    pi_low: float
    pi_high: float
    tau2: float
    tau: float
    i2: float
    q: float
    q_df: int
    q_pvalue: float
    k: int
    method: str
    hksj: bool
    level: float
    transform: str
    studies: pd.DataFrame = field(repr=False)

    def natural(self) -> dict[str, float]:
        """Pooled estimate and intervals back-transformed to the natural scale."""
        f = _TRANSFORMS[self.transform]
        return {k: float(f(getattr(self, k))) for k in
                ("estimate", "ci_low", "ci_high", "pi_low", "pi_high")}

    def to_dict(self) -> dict:
        out = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "studies"}
        out["studies"] = self.studies.to_dict(orient="records")
        return out


def _reml_tau2(y: np.ndarray, v: np.ndarray, start: float, tol: float = 1e-12,
               max_iter: int = 1000) -> float:
    """REML tau2 by Fisher scoring with step halving at 0 (as metafor's rma)."""
    tau2 = start
    for _ in range(max_iter):
        w = 1 / (v + tau2)
        sw = w.sum()
        # P = W - w w' / sum(w); Y'PPY and tr(P), tr(PP) in closed form
        mu = (w @ y) / sw
        py = w * (y - mu)
        ypp = py @ py
        tr_p = sw - (w @ w) / sw
        tr_pp = (w @ w) - 2 * (w**3).sum() / sw + ((w @ w) / sw) ** 2
        adj = (ypp - tr_p) / tr_pp
        while tau2 + adj < 0:
            adj /= 2
        tau2 += adj
        if abs(adj) < tol:
            break
    return max(tau2, 0.0)


def random_effects_meta(estimates: ArrayLike, standard_errors: ArrayLike, *,
                        labels: ArrayLike | None = None, method: str = "REML",
                        hksj: bool = False, level: float = 0.95,
                        transform: str = "identity") -> MetaAnalysis:
    """Random-effects meta-analysis of per-site estimates.

    Parameters
    ----------
    estimates, standard_errors : array-like
        One per site, on the analysis scale (logit C, log O/E, slope).
    labels : array-like of str, optional
        Site names (default ``site 1``, ``site 2``, ...).
    method : {"REML", "DL"}, default "REML"
    hksj : bool, default False
        Hartung-Knapp-Sidik-Jonkman interval (no truncation, as metafor's
        ``test = "knha"``).
    level : float, default 0.95
    transform : {"identity", "expit", "exp"}, default "identity"
        How :meth:`MetaAnalysis.natural` and the forest plot show the values.

    Returns
    -------
    MetaAnalysis

    Examples
    --------
    >>> m = random_effects_meta([0.1, 0.3, 0.35, 0.6, 0.2], [0.1, 0.12, 0.08, 0.15, 0.1])
    >>> round(m.estimate, 3), m.k
    (0.291, 5)
    """
    y = np.asarray(estimates, dtype="float64")
    se = np.asarray(standard_errors, dtype="float64")
    if y.ndim != 1 or se.shape != y.shape:
        raise ValueError(f"Got {y.shape} estimates and {se.shape} standard errors; expected "
                         "one of each per site.")
    k = len(y)
    names = [f"site {i + 1}" for i in range(k)] if labels is None else \
        [str(label) for label in labels]
    if len(names) != k:
        raise ValueError(f"Got {len(names)} labels for {k} sites; expected one per site.")
    bad = ~np.isfinite(y) | ~np.isfinite(se) | (se <= 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"Got estimate={show(y[i])}, se={show(se[i])} for {names[i]}; "
                         "expected a finite estimate and a positive standard error.")
    if k < 2:
        raise ValueError(f"Got {k} site(s); a random-effects meta-analysis needs at least 2.")
    if method not in ("REML", "DL"):
        raise ValueError(f"Got method={method!r}; expected 'REML' or 'DL'.")
    if transform not in _TRANSFORMS:
        raise ValueError(f"Got transform={transform!r}; expected identity, expit or exp.")
    z = z_value(level)
    v = se**2
    w = 1 / v
    mu_fixed = (w @ y) / w.sum()
    q = float(w @ (y - mu_fixed) ** 2)
    c = w.sum() - (w @ w) / w.sum()
    tau2_dl = max(0.0, (q - (k - 1)) / c)
    tau2 = tau2_dl if method == "DL" else _reml_tau2(y, v, tau2_dl)
    ws = 1 / (v + tau2)
    mu = float((ws @ y) / ws.sum())
    if hksj:
        se_mu = math.sqrt(float(ws @ (y - mu) ** 2) / ((k - 1) * ws.sum()))
        crit = float(student_t.ppf(1 - (1 - level) / 2, k - 1))
    else:
        se_mu = math.sqrt(1 / ws.sum())
        crit = z
    s2 = (k - 1) * w.sum() / (w.sum() ** 2 - (w @ w))
    i2 = 100 * tau2 / (tau2 + s2)
    if k >= 3:
        half = float(student_t.ppf(1 - (1 - level) / 2, k - 2)) * math.sqrt(tau2 + se_mu**2)
        pi = (mu - half, mu + half)
    else:
        pi = (np.nan, np.nan)
    studies = pd.DataFrame({"label": names, "estimate": y, "se": se, "ci_low": y - z * se,
                            "ci_high": y + z * se, "weight": 100 * ws / ws.sum()})
    return MetaAnalysis(
        estimate=mu, se=se_mu, ci_low=mu - crit * se_mu, ci_high=mu + crit * se_mu,
        pi_low=pi[0], pi_high=pi[1], tau2=float(tau2), tau=math.sqrt(tau2), i2=float(i2),
        q=q, q_df=k - 1, q_pvalue=float(chi2.sf(q, k - 1)), k=k, method=method, hksj=hksj,
        level=level, transform=transform, studies=studies)


def site_performance(y: ArrayLike, p: ArrayLike, sites: ArrayLike) -> pd.DataFrame:
    """Per-site performance with the standard errors a meta-analysis needs.

    For each site: ``n``, ``events``; ``c_statistic`` and on the logit scale
    ``logit_c`` with ``logit_c_se = se_DeLong / (C (1 - C))``; ``calibration_slope`` and
    ``calibration_in_the_large`` with their model-based SEs (``glm`` as in
    :func:`binary_metrics`); ``log_oe = ln(O/E)`` with ``sqrt((1 - O/n) / O)``
    (Debray et al. 2017). A site without events or without non-events keeps its
    counts, with NaN for the measures that need both (and a log message).

    Returns
    -------
    DataFrame
        One row per site, in order of first appearance.
    """
    y = as_binary(y)
    p = as_probability(p, len(y))
    labels = np.asarray(sites)
    if len(labels) != len(y):
        raise ValueError(f"Got sites with {len(labels)} rows and y with {len(y)}; expected "
                         "the same number.")
    if pd.isna(labels).any():
        i = int(np.flatnonzero(pd.isna(labels))[0])
        raise ValueError(f"Got a missing site at row {i}; every row needs its site.")
    rows = []
    for site in pd.unique(labels):
        mask = labels == site
        ys, ps = y[mask], p[mask]
        lp = logit(ps)
        n, events = int(mask.sum()), int(ys.sum())
        row = {"site": site, "n": n, "events": events}
        obs, exp_ = ys.sum(), ps.sum()
        row["observed_expected"] = obs / exp_
        row["log_oe"] = math.log(obs / exp_) if obs > 0 else np.nan
        row["log_oe_se"] = math.sqrt((1 - obs / n) / obs) if 0 < obs < n else np.nan
        if 1 < events < n - 1:
            auc, v10, v01 = delong(ys, ps)
            se_auc = math.sqrt(v10.var(ddof=1) / len(v10) + v01.var(ddof=1) / len(v01))
            ones = np.ones((n, 1))
            slope = fit_logistic(np.column_stack([ones, lp]), ys)
            citl = fit_logistic(ones, ys, offset=lp)
            row.update({
                "c_statistic": auc,
                "logit_c": logit(auc) if 0 < auc < 1 else np.nan,
                "logit_c_se": se_auc / (auc * (1 - auc)) if 0 < auc < 1 else np.nan,
                "calibration_slope": slope.coef[1] if slope.converged else np.nan,
                "calibration_slope_se": slope.se[1] if slope.converged else np.nan,
                "calibration_in_the_large": citl.coef[0],
                "calibration_in_the_large_se": citl.se[0],
            })
        else:
            logger.info("site %s has %d events in %d rows: no C-statistic or calibration",
                        site, events, n)
        rows.append(row)
    columns = ["site", "n", "events", "c_statistic", "logit_c", "logit_c_se",
               "calibration_slope", "calibration_slope_se", "calibration_in_the_large",
               "calibration_in_the_large_se", "observed_expected", "log_oe", "log_oe_se"]
    return pd.DataFrame(rows).reindex(columns=columns)


_MEASURES = {  # measure -> (estimate column, se column, transform)
    "c_statistic": ("logit_c", "logit_c_se", "expit"),
    "calibration_slope": ("calibration_slope", "calibration_slope_se", "identity"),
    "calibration_in_the_large": ("calibration_in_the_large", "calibration_in_the_large_se",
                                 "identity"),
    "observed_expected": ("log_oe", "log_oe_se", "exp"),
}


def pool_site_performance(site_table: pd.DataFrame, *, method: str = "REML",
                          hksj: bool = True, level: float = 0.95) -> dict[str, MetaAnalysis]:
    """Random-effects pooling of each measure of :func:`site_performance`.

    Sites where a measure is undefined (no events, a single class) are left out of that
    measure's meta-analysis and named in a log message; the returned analyses say which
    sites they contain (``studies.label``).

    Returns
    -------
    dict
        ``c_statistic`` (pooled on the logit scale), ``calibration_slope``,
        ``calibration_in_the_large``, ``observed_expected`` (pooled on the log scale) ->
        :class:`MetaAnalysis`.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> site = np.repeat(list("ABCDE"), 200)
    >>> p = expit(rng.normal(-0.3, 1, 1000)); y = (rng.random(1000) < p).astype(int)
    >>> table = site_performance(y, p, site)
    >>> summary = meta_summary(pool_site_performance(table)).set_index("measure")
    >>> bool(summary.loc["calibration_slope", "ci_low"] < 1
    ...      < summary.loc["calibration_slope", "ci_high"])
    True
    """
    out = {}
    for measure, (est, se, transform) in _MEASURES.items():
        ok = site_table[est].notna() & site_table[se].notna()
        if (~ok).any():
            logger.info("%s: sites %s left out (undefined there)", measure,
                        ", ".join(map(str, site_table.loc[~ok, "site"])))
        if ok.sum() < 2:
            logger.info("%s: fewer than 2 sites with a value, not pooled", measure)
            continue
        sub = site_table[ok]
        out[measure] = random_effects_meta(sub[est], sub[se], labels=sub["site"],
                                           method=method, hksj=hksj, level=level,
                                           transform=transform)
    return out


def meta_summary(results: dict[str, MetaAnalysis]) -> pd.DataFrame:
    """One row per measure on the natural scale (C, slope, CITL, O/E), with the
    prediction interval and heterogeneity (``tau2`` stays on the analysis scale)."""
    rows = []
    for measure, m in results.items():
        rows.append({"measure": measure, **m.natural(), "tau2": m.tau2, "i2": m.i2,
                     "q": m.q, "q_pvalue": m.q_pvalue, "k": m.k, "method": m.method,
                     "hksj": m.hksj, "scale": {"expit": "logit", "exp": "log"}.get(
                         m.transform, "natural")})
    return pd.DataFrame(rows)


def forest_plot(meta: MetaAnalysis, path: str | Path, *, title: str | None = None,
                xlabel: str | None = None, reference: float | None = None) -> Path:
    """Forest plot (PNG): per-site estimates with intervals, pooled diamond and the
    prediction interval, on the natural scale (axis in logit or log units when the
    meta-analysis used them).

    Parameters
    ----------
    meta : MetaAnalysis
    path : path-like
        Output PNG.
    title, xlabel : str, optional
    reference : float, optional
        Vertical line at the ideal value on the natural scale (1 for slope and O/E, 0
        for calibration-in-the-large).

    Returns
    -------
    Path
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator, NullFormatter

    f = _TRANSFORMS[meta.transform]
    s = meta.studies
    k = len(s)
    nat = meta.natural()
    fig, ax = plt.subplots(figsize=(8, 1.6 + 0.32 * (k + 3)))
    ypos = np.arange(k, 0, -1) + 2
    sizes = 20 + 180 * s["weight"].to_numpy() / s["weight"].max()
    lows, highs, ests = f(s["ci_low"]), f(s["ci_high"]), f(s["estimate"])
    ax.hlines(ypos, lows, highs, color="black", lw=1)
    ax.scatter(ests, ypos, s=sizes, marker="s", color="tab:blue", zorder=3)
    ax.fill([nat["ci_low"], nat["estimate"], nat["ci_high"], nat["estimate"]],
            [1, 1.3, 1, 0.7], color="tab:red", zorder=3)
    if np.isfinite(nat["pi_low"]):
        ax.hlines(0.3, nat["pi_low"], nat["pi_high"], color="tab:red", lw=2)
    if reference is not None:
        ax.axvline(reference, ls=":", color="grey")
    labels = list(s["label"]) + [f"pooled ({meta.method}{', HKSJ' if meta.hksj else ''})",
                                 f"{int(round(100 * meta.level))} % prediction interval"]
    ax.set_yticks(list(ypos) + [1, 0.3], labels)
    values = [(e, lo, hi) for e, lo, hi in zip(ests, lows, highs, strict=True)]
    values += [(nat["estimate"], nat["ci_low"], nat["ci_high"]),
               (np.nan, nat["pi_low"], nat["pi_high"])]
    for yy, (e, lo, hi) in zip(list(ypos) + [1, 0.3], values, strict=True):
        text = f"{lo:.2f} to {hi:.2f}" if np.isnan(e) else f"{e:.2f} ({lo:.2f} to {hi:.2f})"
        ax.text(1.02, yy, text, transform=ax.get_yaxis_transform(), va="center", fontsize=8)
    if meta.transform in ("exp", "expit"):
        ax.set_xscale("log" if meta.transform == "exp" else "logit")
        limits = ax.get_xlim()
        finite = np.r_[lows, highs, nat["pi_low"], nat["pi_high"]]
        finite = finite[np.isfinite(finite)]
        ticks = MaxNLocator(5).tick_values(finite.min(), finite.max())
        ticks = ticks[(ticks > 0) & ((ticks < 1) | (meta.transform == "exp"))]
        ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlim(limits)
    ax.set_ylim(-0.3, k + 3)
    summary = (f"{nat['estimate']:.3f} ({nat['ci_low']:.3f} to {nat['ci_high']:.3f}); "
               f"tau2 {meta.tau2:.3g}, I2 {meta.i2:.0f} %, k = {meta.k}")
    ax.set(xlabel=xlabel or "", title=(title + "\n" if title else "") + summary)
    ax.title.set_fontsize(9)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path

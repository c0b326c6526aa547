"""Numerical building blocks shared by the validation, updating and meta-analysis code.

Logistic regression by Newton-Raphson (with offset, frequency weights and a batched
two-parameter form for bootstraps), DeLong placement values, weighted AUROC and
average precision that accept a matrix of bootstrap weights, Wilson and t intervals,
Harrell's restricted cubic spline basis, and input checks with one-line errors.
Everything works on NumPy arrays; nothing here knows about models or cohorts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import expit, log_expit, logit, ndtri
from scipy.stats import rankdata
from scipy.stats import t as student_t

__all__ = [
    "LogisticFit",
    "show",
    "as_binary",
    "as_probability",
    "average_precision_weighted",
    "auroc_weighted",
    "delong",
    "fit_logistic",
    "logistic_batch",
    "mean_interval",
    "rcs_basis",
    "rcs_knots",
    "wilson_interval",
    "z_value",
]


def show(value) -> str:
    """``repr`` of a value for an error message (NumPy scalars shown as Python ones)."""
    return repr(value.item() if isinstance(value, np.generic) else value)


def z_value(level: float) -> float:
    """Two-sided normal quantile for a confidence level (1.959964 at 0.95)."""
    if not 0 < level < 1:
        raise ValueError(f"Got level={level!r}; expected a confidence level between 0 and 1.")
    return float(ndtri(1 - (1 - level) / 2))


def _first_bad(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def as_binary(y, name: str = "y") -> np.ndarray:
    """Outcome as a float array of 0/1; a one-line error names the first bad row (0-based)."""
    arr = np.asarray(y)
    if arr.ndim != 1:
        raise ValueError(f"Got {name} with shape {arr.shape}; expected one dimension.")
    if arr.dtype == bool:
        return arr.astype("float64")
    try:
        values = arr.astype("float64")
    except (TypeError, ValueError):
        raise ValueError(f"Got non-numeric {name} (e.g. {arr[0]!r}); expected 0 or 1.") from None
    bad = ~np.isin(values, (0.0, 1.0))
    if bad.any():
        i = _first_bad(bad)
        raise ValueError(f"Got {name}={show(arr[i])} at row {i}; expected 0 or 1.")
    return values


def as_probability(p, n: int, name: str = "p", *, open_interval: bool = True) -> np.ndarray:
    """Probabilities as floats, checked against length ``n`` and (0, 1)."""
    values = np.asarray(p, dtype="float64")
    if values.shape[0] != n:
        raise ValueError(f"Got {name} with {values.shape[0]} rows and y with {n}; expected the "
                         "same number.")
    flat = values.reshape(n, -1)
    bad = ~np.isfinite(flat) | ((flat <= 0) | (flat >= 1) if open_interval
                                else (flat < 0) | (flat > 1))
    if bad.any():
        i = _first_bad(bad.any(axis=1))
        interval = "strictly between 0 and 1" if open_interval else "between 0 and 1"
        raise ValueError(f"Got {name}={show(flat[i][bad[i]][0])} at row {i}; expected a "
                         f"probability {interval} (calibration and log loss need its logit).")
    return values


def wilson_interval(successes, trials, level: float = 0.95):
    """Wilson score interval (R's ``prop.test(correct = FALSE)``).

    Examples
    --------
    >>> [round(float(v), 4) for v in wilson_interval(8, 10)]
    [0.4902, 0.9433]
    """
    z = z_value(level)
    x = np.asarray(successes, dtype="float64")
    n = np.asarray(trials, dtype="float64")
    with np.errstate(invalid="ignore", divide="ignore"):
        phat = x / n
        centre = phat + z * z / (2 * n)
        half = z * np.sqrt(phat * (1 - phat) / n + z * z / (4 * n * n))
        denom = 1 + z * z / n
        return (centre - half) / denom, (centre + half) / denom


def mean_interval(values: np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    """Mean with a t interval (R's ``t.test``): for metrics that are means of per-row terms."""
    values = np.asarray(values, dtype="float64")
    n = len(values)
    mean = float(values.mean())
    if n < 2:
        return mean, np.nan, np.nan
    half = float(student_t.ppf(1 - (1 - level) / 2, n - 1) * values.std(ddof=1) / math.sqrt(n))
    return mean, mean - half, mean + half


@dataclass(frozen=True)
class LogisticFit:
    """Maximum-likelihood logistic regression (see :func:`fit_logistic`)."""

    coef: np.ndarray
    cov: np.ndarray
    loglik: float
    converged: bool
    n_iter: int

    @property
    def se(self) -> np.ndarray:
        return np.sqrt(np.diag(self.cov))


def _loglik(y, eta, w):
    return float(np.sum(w * (y * log_expit(eta) + (1 - y) * log_expit(-eta))))


def fit_logistic(X: np.ndarray | None, y: np.ndarray, *, offset: np.ndarray | None = None,
                 weights: np.ndarray | None = None, max_iter: int = 100,
                 tol: float = 1e-11, ridge: float = 0.0) -> LogisticFit:
    """Logistic regression ``logit P(y) = X b + offset`` by Newton-Raphson.

    ``X`` has no implicit intercept column (pass one); ``X=None`` fits nothing and
    returns the log-likelihood of the offset alone. Step halving keeps the
    log-likelihood rising; convergence is a step below ``tol`` in every coefficient.
    The covariance is the inverse observed information (what R's ``glm`` reports).
    ``ridge`` > 0 adds ``ridge / 2 * sum(b[1:] ** 2)`` to the objective (every
    coefficient but the first, the intercept column), so a separated sample has a finite
    maximum; ``loglik`` is then the unpenalised log-likelihood at that maximum.
    """
    y = np.asarray(y, dtype="float64")
    n = len(y)
    off = np.zeros(n) if offset is None else np.asarray(offset, dtype="float64")
    w = np.ones(n) if weights is None else np.asarray(weights, dtype="float64")
    if X is None:
        return LogisticFit(np.zeros(0), np.zeros((0, 0)), _loglik(y, off, w), True, 0)
    X = np.asarray(X, dtype="float64").reshape(n, -1)
    beta = np.zeros(X.shape[1])
    pen = np.full(X.shape[1], float(ridge))
    pen[0] = 0.0

    def objective(b: np.ndarray) -> float:
        return _loglik(y, X @ b + off, w) - 0.5 * float(pen @ (b * b))

    ll = objective(beta)
    converged = False
    it = 0
    for it in range(1, max_iter + 1):  # noqa: B007 (n_iter is reported)
        eta = X @ beta + off
        mu = expit(eta)
        grad = X.T @ (w * (y - mu)) - pen * beta
        info = (X * (w * mu * (1 - mu))[:, None]).T @ X + np.diag(pen)
        try:
            step = np.linalg.solve(info, grad)
        except np.linalg.LinAlgError:
            break
        t = 1.0
        while True:
            candidate = beta + t * step
            ll_new = objective(candidate)
            if ll_new >= ll - 1e-12 * abs(ll) or t < 1e-8:
                break
            t /= 2
        beta, ll = candidate, ll_new
        if np.max(np.abs(t * step)) < tol:
            converged = True
            break
    mu = expit(X @ beta + off)
    info = (X * (w * mu * (1 - mu))[:, None]).T @ X + np.diag(pen)
    try:
        cov = np.linalg.inv(info)
    except np.linalg.LinAlgError:
        cov = np.full((X.shape[1], X.shape[1]), np.nan)
    if ridge:
        ll = _loglik(y, X @ beta + off, w)
    return LogisticFit(beta, cov, ll, converged and bool(np.all(np.isfinite(cov))), it)


def logistic_batch(z: np.ndarray, y: np.ndarray, W: np.ndarray, *, slope: bool,
                   start: tuple[float, float] | None = None, max_iter: int = 50,
                   tol: float = 1e-7) -> tuple[np.ndarray, np.ndarray]:
    """Calibration intercept (offset ``z``) or intercept and slope on ``z``, per weight row.

    ``W`` is a (B, n) matrix of frequency weights (bootstrap replicates). Returns
    ``(a, b)`` arrays of length B; ``b`` is 1 when ``slope`` is false. Newton steps start
    at ``start`` (e.g. the full-data estimate, so replicates need 3-4 steps) or at the
    null model. Newton converges quadratically, so after a step below ``tol`` the
    estimate is within about ``tol^2`` of the maximum. Rows that do not converge
    (separation in a replicate) get NaN.
    """
    W = np.atleast_2d(W)
    B = W.shape[0]
    wy = W @ y
    with np.errstate(invalid="ignore", divide="ignore"):
        if start is not None:
            a, b = np.full(B, float(start[0])), np.full(B, float(start[1]) if slope else 1.0)
        elif slope:
            a, b = logit(np.clip(wy / W.sum(axis=1), 1e-6, 1 - 1e-6)), np.zeros(B)
        else:
            a, b = np.log(wy / (W @ expit(z))), np.ones(B)
    done = np.zeros(B, dtype=bool)
    wyz, zz = W @ (y * z), z * z
    active = np.arange(B)
    for _ in range(max_iter):
        Wa = W if len(active) == B else W[active]
        mu = np.multiply.outer(b[active], z)
        mu += a[active][:, None]
        expit(mu, out=mu)
        wm = Wa * mu
        np.multiply(wm, mu, out=mu)  # mu now holds W mu^2
        s0, s1 = wm.sum(axis=1), wm @ z
        h00, h01 = s0 - mu.sum(axis=1), s1 - mu @ z
        g0 = wy[active] - s0
        with np.errstate(invalid="ignore", divide="ignore"):
            if slope:
                g1 = wyz[active] - s1
                h11 = wm @ zz - mu @ zz
                det = h00 * h11 - h01 * h01
                da = (h11 * g0 - h01 * g1) / det
                db = (h00 * g1 - h01 * g0) / det
            else:
                da, db = g0 / h00, np.zeros(len(active))
        a[active] += da
        b[active] += db
        finished = (np.abs(da) < tol) & (np.abs(db) < tol)
        done[active[finished]] = True
        active = active[~finished & np.isfinite(da) & np.isfinite(db)]
        if len(active) == 0:
            break
    a = np.where(done, a, np.nan)
    b = np.where(done, b, np.nan)
    return a, b


def delong(y: np.ndarray, score: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """AUROC and DeLong placement values (``V10`` for events, ``V01`` for non-events).

    ``Var(AUC) = var(V10) / m + var(V01) / n`` with ``ddof=1`` (DeLong et al. 1988, as
    pROC's ``ci.auc(method = "delong")``). Ties count one half.
    """
    pos = y == 1
    m, n = int(pos.sum()), int((~pos).sum())
    if m == 0 or n == 0:
        return np.nan, np.zeros(m), np.zeros(n)
    ranks = rankdata(score)
    rank_pos = rankdata(score[pos])
    rank_neg = rankdata(score[~pos])
    v10 = (ranks[pos] - rank_pos) / n
    v01 = 1 - (ranks[~pos] - rank_neg) / m
    return float(v10.mean()), v10, v01


def _grouped(score: np.ndarray, descending: bool):
    order = np.argsort(-score if descending else score, kind="mergesort")
    s = score[order]
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
    return order, starts


def auroc_weighted(y: np.ndarray, score: np.ndarray, W: np.ndarray | None = None):
    """AUROC with frequency weights; ``W`` may be (n,) or a (B, n) matrix of replicates.

    Equal to the Mann-Whitney AUROC of the data with each row repeated ``w`` times.
    """
    order, starts = _grouped(score, descending=False)
    W = np.ones(len(y)) if W is None else W
    Wo = np.asarray(W, dtype="float64")[..., order]
    yo = y[order]
    gp = np.add.reduceat(Wo * yo, starts, axis=-1)
    gn = np.add.reduceat(Wo * (1 - yo), starts, axis=-1)
    below = np.cumsum(gn, axis=-1) - gn
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.sum(gp * (below + 0.5 * gn), axis=-1) / (gp.sum(axis=-1) * gn.sum(axis=-1))


def average_precision_weighted(y: np.ndarray, score: np.ndarray, W: np.ndarray | None = None):
    """Average precision (step-wise area under the precision-recall curve, as scikit-learn's
    ``average_precision_score``) with frequency weights, (n,) or (B, n)."""
    order, starts = _grouped(score, descending=True)
    W = np.ones(len(y)) if W is None else W
    Wo = np.asarray(W, dtype="float64")[..., order]
    yo = y[order]
    tp = np.cumsum(np.add.reduceat(Wo * yo, starts, axis=-1), axis=-1)
    fp = np.cumsum(np.add.reduceat(Wo * (1 - yo), starts, axis=-1), axis=-1)
    total = tp[..., -1:]
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(tp + fp > 0, tp / (tp + fp), 0.0)
        recall = tp / total
    d_recall = np.diff(recall, axis=-1, prepend=0.0)
    return np.sum(d_recall * precision, axis=-1)


def rcs_knots(x: np.ndarray, n_knots: int) -> np.ndarray:
    """Harrell's default knot positions: quantiles 0.05..0.95 (0.10..0.90 for 3 knots,
    0.025..0.975 above 6), equally spaced in probability (``Hmisc::rcspline.eval``
    without its tied-values adjustment)."""
    if not 3 <= n_knots <= 7:
        raise ValueError(f"Got n_knots={n_knots!r}; expected 3 to 7.")
    outer = 0.1 if n_knots == 3 else 0.025 if n_knots > 6 else 0.05
    knots = np.quantile(x, np.linspace(outer, 1 - outer, n_knots))
    if len(np.unique(knots)) < n_knots:
        raise ValueError(f"Got {len(np.unique(x))} distinct predictions; too few for "
                         f"{n_knots} spline knots.")
    return knots


def rcs_basis(x: np.ndarray, knots: np.ndarray) -> np.ndarray:
    """Restricted cubic spline basis (linear term plus k - 2 non-linear terms), Harrell's
    parametrisation with ``norm = 2`` (terms divided by ``(t_k - t_1)^2``)."""
    x = np.asarray(x, dtype="float64")
    t = np.asarray(knots, dtype="float64")
    k = len(t)
    scale = (t[-1] - t[0]) ** 2

    def cube(v):
        return np.maximum(v, 0.0) ** 3

    cols = [x]
    for j in range(k - 2):
        cols.append((cube(x - t[j])
                     - cube(x - t[-2]) * (t[-1] - t[j]) / (t[-1] - t[-2])
                     + cube(x - t[-1]) * (t[-2] - t[j]) / (t[-1] - t[-2])) / scale)
    return np.column_stack(cols)

"""Row-level and cluster (site) bootstrap of any metric function.

A bootstrap replicate is expressed as frequency weights: a row drawn three times has
weight 3, a row not drawn weight 0. For every statistic that respects frequency weights
(scikit-learn's ``sample_weight`` metrics, and every metric in this package) this is
identical to computing on the resampled rows, and it lets vectorised statistics score
many replicates at once without re-sorting the data.

Resampling whole clusters (sites, Field & Welsh 2007) keeps the within-site
correlation, so intervals reflect between-site variation as well.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

__all__ = ["bootstrap_weights", "cluster_bootstrap", "draw_rows"]

logger = logging.getLogger(__name__)


def bootstrap_weights(n: int, n_boot: int, *, clusters: ArrayLike | None = None,
                      seed: int | None = 0,
                      rng: np.random.Generator | None = None) -> np.ndarray:
    """(n_boot, n) matrix of bootstrap frequency weights.

    With ``clusters`` (one label per row), whole clusters are drawn with replacement and
    each row gets its cluster's count.

    Examples
    --------
    >>> W = bootstrap_weights(5, 3, clusters=["a", "a", "b", "b", "c"], seed=1)
    >>> W.shape, bool((W[:, 0] == W[:, 1]).all())
    ((3, 5), True)
    """
    rng = np.random.default_rng(seed) if rng is None else rng
    if clusters is None:
        codes, g = np.arange(n), n
    else:
        labels = np.asarray(clusters)
        if len(labels) != n:
            raise ValueError(f"Got clusters with {len(labels)} rows and data with {n}; expected "
                             "the same number.")
        if pd.isna(labels).any():
            i = int(np.flatnonzero(pd.isna(labels))[0])
            raise ValueError(f"Got a missing cluster label at row {i}; every row needs one.")
        codes, uniques = pd.factorize(labels)
        g = len(uniques)
    draws = rng.integers(0, g, size=(n_boot, g))
    flat = (draws + g * np.arange(n_boot)[:, None]).ravel()
    counts = np.bincount(flat, minlength=n_boot * g).reshape(n_boot, g).astype("float64")
    return counts if clusters is None else counts[:, codes]


def draw_rows(rng: np.random.Generator, n: int, clusters: ArrayLike | None = None
              ) -> np.ndarray:
    """Row indices of one bootstrap resample: rows drawn with replacement, or, with
    ``clusters`` (one label per row: participants of a repeated-session cohort), whole
    clusters drawn with replacement and all their rows taken.

    Examples
    --------
    >>> rows = draw_rows(np.random.default_rng(0), 4, clusters=["a", "a", "b", "b"])
    >>> len(rows) % 2 == 0 and all(set(rows[i:i + 2]) in ({0, 1}, {2, 3})
    ...                            for i in range(0, len(rows), 2))
    True
    """
    if clusters is None:
        return rng.integers(0, n, n)
    codes, uniques = pd.factorize(np.asarray(clusters))
    g = len(uniques)
    order = np.argsort(codes, kind="stable")
    starts = np.searchsorted(codes[order], np.arange(g + 1))
    picked = rng.integers(0, g, g)
    return np.concatenate([order[starts[c]:starts[c + 1]] for c in picked])


def _as_dict(value) -> dict[str, np.ndarray]:
    if isinstance(value, Mapping):
        return {str(k): np.asarray(v, dtype="float64") for k, v in value.items()}
    return {"statistic": np.asarray(value, dtype="float64")}


def cluster_bootstrap(statistic: Callable, *arrays: ArrayLike,
                      clusters: ArrayLike | None = None, n_boot: int = 1000,
                      level: float = 0.95, seed: int | None = 0,
                      batch_size: int | None = None) -> pd.DataFrame:
    """Percentile bootstrap intervals for any metric function, by row or by cluster.

    Parameters
    ----------
    statistic : callable
        ``statistic(*arrays, sample_weight=w)`` returning a float or a mapping of metric
        name to float. With ``batch_size``, it is called with ``w`` of shape
        (batch, n) and must return arrays of length batch (every metric function of
        this package can); otherwise with ``w`` of shape (n,) once per replicate
        (e.g. ``sklearn.metrics.roc_auc_score``).
    *arrays : array-like
        Row-aligned inputs passed through to ``statistic`` (e.g. ``y, p``).
    clusters : array-like, optional
        Cluster (site) label per row; whole clusters are resampled. Default: rows.
    n_boot : int, default 1000
    level : float, default 0.95
    seed : int, default 0
    batch_size : int, optional
        Replicates scored per call of a vectorised statistic.

    Returns
    -------
    DataFrame
        Columns ``metric, estimate, ci_low, ci_high`` (estimate on all rows). Replicates
        in which a metric is undefined (e.g. one class only) are left out of its
        interval, with a log message saying how many.

    Examples
    --------
    >>> from sklearn.metrics import roc_auc_score
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 2, 300); p = np.clip(0.3 * y + 0.7 * rng.random(300), 0, 1)
    >>> out = cluster_bootstrap(roc_auc_score, y, p, n_boot=200)
    >>> row = out.iloc[0]
    >>> bool(row.ci_low < row.estimate < row.ci_high)
    True
    """
    if not 0 < level < 1:
        raise ValueError(f"Got level={level!r}; expected a number between 0 and 1.")
    if n_boot < 1:
        raise ValueError(f"Got n_boot={n_boot!r}; expected a positive number of replicates.")
    if not arrays:
        raise ValueError("Got no data arrays; expected at least one (e.g. y, p).")
    n = len(arrays[0])
    for a in arrays[1:]:
        if len(a) != n:
            raise ValueError(f"Got arrays with {n} and {len(a)} rows; expected equal lengths.")
    rng = np.random.default_rng(seed)
    full = _as_dict(statistic(*arrays, sample_weight=np.ones(n)))
    draws: dict[str, list[np.ndarray]] = {k: [] for k in full}
    step = batch_size or 1
    for start in range(0, n_boot, step):
        size = min(step, n_boot - start)
        W = bootstrap_weights(n, size, clusters=clusters, rng=rng)
        if batch_size:
            out = _as_dict(statistic(*arrays, sample_weight=W))
        else:
            out = _as_dict(statistic(*arrays, sample_weight=W[0]))
        for k in full:
            draws[k].append(np.atleast_1d(out[k]))
    rows = []
    alpha = (1 - level) / 2
    for k, est in full.items():
        values = np.concatenate(draws[k])
        ok = np.isfinite(values)
        if (~ok).any():
            logger.info("%s: %d of %d bootstrap replicates undefined, left out of the interval",
                        k, int((~ok).sum()), len(values))
        lo, hi = (np.quantile(values[ok], [alpha, 1 - alpha]) if ok.sum() > 1
                  else (np.nan, np.nan))
        rows.append({"metric": k, "estimate": float(est), "ci_low": float(lo),
                     "ci_high": float(hi)})
    return pd.DataFrame(rows)

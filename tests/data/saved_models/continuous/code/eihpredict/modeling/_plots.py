"""Validation plots (PNG): ROC, calibration and decision curves, each with intervals.

All curves come from out-of-fold predictions of the outer CV; bands are 95 %
participant-level bootstrap intervals (ROC, decision curve) or Wilson intervals of
the observed share per risk decile (calibration).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["plot_calibration", "plot_decision_curves", "plot_roc"]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def roc_with_band(ax, y: np.ndarray, p: np.ndarray, grid: np.ndarray, label: str, rng,
                  n_boot: int, alpha: float) -> None:
    """An ROC curve on ``grid`` with its 95 % bootstrap band (rows resampled)."""
    ax.plot(grid, _roc_points(y, p, grid), label=label)
    boots = []
    for _ in range(n_boot):
        idx = rng.integers(0, len(y), len(y))
        boots.append(_roc_points(y[idx], p[idx], grid))
    lo, hi = np.quantile(boots, [0.025, 0.975], axis=0)
    ax.fill_between(grid, lo, hi, alpha=alpha)


def _roc_points(y: np.ndarray, p: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """True-positive rate at each false-positive rate of ``grid`` (step interpolation)."""
    order = np.argsort(-p, kind="mergesort")
    ys = y[order]
    tpr = np.r_[0, np.cumsum(ys) / max(ys.sum(), 1)]
    fpr = np.r_[0, np.cumsum(1 - ys) / max((1 - ys).sum(), 1)]
    return np.interp(grid, fpr, tpr)


def plot_roc(y: np.ndarray, predictions: dict[str, np.ndarray], auroc: dict[str, str],
             path: Path, *, n_boot: int = 200, seed: int = 0) -> Path:
    plt = _pyplot()
    grid = np.linspace(0, 1, 101)
    rng = np.random.default_rng(seed)
    fig, ax = plt.subplots(figsize=(5.5, 5))
    for name, preds in predictions.items():
        p = np.nanmean(np.atleast_2d(preds), axis=0)
        roc_with_band(ax, y, p, grid, f"{name}  AUROC {auroc[name]}", rng, n_boot, 0.15)
    ax.plot([0, 1], [0, 1], ls=":", color="grey", lw=1)
    ax.set(xlabel="1 - specificity", ylabel="sensitivity",
           title="ROC (outer-CV predictions, 95 % bootstrap band)")
    ax.legend(loc="lower right", fontsize=8)
    return _save(fig, path)


def plot_calibration(y: np.ndarray, predictions: dict[str, np.ndarray],
                     slopes: dict[str, str], path: Path, *, bins: int = 10) -> Path:
    plt = _pyplot()
    from scipy.stats import norm

    fig, ax = plt.subplots(figsize=(5.5, 5))
    z = norm.ppf(0.975)
    for name, preds in predictions.items():
        p = np.nanmean(np.atleast_2d(preds), axis=0)
        edges = np.unique(np.quantile(p, np.linspace(0, 1, bins + 1)))
        which = np.clip(np.digitize(p, edges[1:-1]), 0, len(edges) - 2)
        frame = pd.DataFrame({"p": p, "y": y, "bin": which}).groupby("bin")
        mean_p, obs, n = frame["p"].mean(), frame["y"].mean(), frame["y"].size()
        centre = (obs + z**2 / (2 * n)) / (1 + z**2 / n)
        half = z * np.sqrt(obs * (1 - obs) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
        yerr = np.clip([obs - (centre - half), (centre + half) - obs], 0, None)
        ax.errorbar(mean_p, obs, yerr=yerr,
                    marker="o", ms=4, capsize=2, lw=1, label=f"{name}  slope {slopes[name]}")
    ax.plot([0, 1], [0, 1], ls=":", color="grey", lw=1, label="ideal")
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="predicted probability of impaired EIH",
           ylabel="observed share impaired",
           title="Calibration (risk deciles, 95 % Wilson intervals)")
    ax.legend(loc="upper left", fontsize=8)
    return _save(fig, path)


def plot_decision_curves(curves: dict[str, pd.DataFrame], path: Path,
                         event: str = "impaired EIH") -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4.5))
    first = next(iter(curves.values()))
    for name, curve in curves.items():
        ax.plot(curve["threshold"], curve["net_benefit"], label=name)
        ax.fill_between(curve["threshold"], curve["ci_low"], curve["ci_high"], alpha=0.15)
    ax.plot(first["threshold"], first["treat_all"], ls="--", color="grey", lw=1,
            label="treat all")
    ax.axhline(0, color="black", lw=0.8, label="treat none")
    top = max(float(c["ci_high"].max()) for c in curves.values())
    ax.set(ylim=(-0.05, max(top, 0.05) * 1.1), xlabel="threshold probability",
           ylabel="net benefit",
           title=f"Decision curve, {event} (outer CV, 95 % bootstrap band)")
    ax.legend(fontsize=8)
    return _save(fig, path)


def _save(fig, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path

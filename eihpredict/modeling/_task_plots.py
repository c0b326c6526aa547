"""Validation plots of continuous and three-class models (PNG), from outer-CV predictions.

- :func:`plot_change`: observed against predicted PPT change, and the share of observed
  changes inside the prediction interval by decile of the prediction (Wilson 95 %
  intervals) against the nominal level.
- :func:`plot_three_class_roc`: one-versus-rest ROC curve per class with a 95 %
  bootstrap band.
- :func:`plot_three_class_calibration`: observed share of each class by decile of its
  predicted probability (Wilson 95 % intervals).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ._outputs import THREE_CLASSES
from ._plots import _pyplot, _save, roc_with_band
from ._stats import wilson_interval

__all__ = ["plot_change", "plot_three_class_calibration", "plot_three_class_roc"]


def _wilson(k: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return wilson_interval(k, n, 0.95)


def _deciles(values: np.ndarray, bins: int = 10) -> np.ndarray:
    edges = np.unique(np.quantile(values, np.linspace(0, 1, bins + 1)))
    return np.clip(np.digitize(values, edges[1:-1]), 0, max(len(edges) - 2, 0))


def plot_change(y: np.ndarray, outputs: dict[str, np.ndarray], level: float, title: str,
                path: Path) -> Path:
    """Observed vs predicted change, and interval coverage by decile of the prediction.

    ``outputs`` holds ``predicted_change_kpa``, ``change_pi_low`` and ``change_pi_high``,
    each (n,) or (repeats, n); the first repeat is shown.
    """
    plt = _pyplot()
    mu, low, high = (np.atleast_2d(outputs[c])[0] for c in (
        "predicted_change_kpa", "change_pi_low", "change_pi_high"))
    y = np.asarray(y, dtype="float64")
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.5))
    left.scatter(mu, y, s=6, alpha=0.35, color="tab:blue", label="participants")
    span = np.array([min(mu.min(), y.min()), max(mu.max(), y.max())])
    left.plot(span, span, ls=":", color="grey", lw=1, label="observed = predicted")
    order = np.argsort(mu)
    left.fill_between(mu[order], low[order], high[order], color="tab:orange", alpha=0.2,
                      label=f"{level:.0%} prediction interval")
    left.set(xlabel="predicted change (kPa)", ylabel="observed change (kPa)",
             title=f"{title}: observed vs predicted")
    left.legend(fontsize=8, loc="upper left")
    inside = (y >= low) & (y <= high)
    frame = pd.DataFrame({"mu": mu, "inside": inside, "bin": _deciles(mu)}).groupby("bin")
    n, k, centre = frame["inside"].size(), frame["inside"].sum(), frame["mu"].mean()
    lo, hi = _wilson(k.to_numpy(float), n.to_numpy(float))
    share = (k / n).to_numpy()
    right.errorbar(centre, share, yerr=np.clip([share - lo, hi - share], 0, None), marker="o",
                   ms=4, capsize=2, lw=1, label="observed coverage")
    right.axhline(level, color="grey", ls=":", lw=1, label=f"nominal {level:.0%}")
    right.set(ylim=(0, 1.02), xlabel="predicted change (kPa), deciles",
              ylabel="share inside the interval",
              title=f"Interval coverage (overall {inside.mean():.1%})")
    right.legend(fontsize=8, loc="lower right")
    return _save(fig, path)


def plot_three_class_roc(y: np.ndarray, probabilities: dict[str, np.ndarray],
                         aurocs: dict[str, dict[str, str]], path: Path, *, n_boot: int = 200,
                         seed: int = 0) -> Path:
    """One-vs-rest ROC per class; ``aurocs[candidate][class]`` is the legend text."""
    plt = _pyplot()
    y = np.asarray(y).astype(int)
    grid = np.linspace(0, 1, 101)
    rng = np.random.default_rng(seed)
    fig, axes = plt.subplots(1, len(THREE_CLASSES), figsize=(15, 4.8))
    for j, (ax, name) in enumerate(zip(axes, THREE_CLASSES, strict=True)):
        yj = (y == j).astype(int)
        for candidate, preds in probabilities.items():
            p = np.nanmean(np.asarray(preds).reshape(-1, len(y), len(THREE_CLASSES)),
                           axis=0)[:, j]
            roc_with_band(ax, yj, p, grid, f"{candidate}  {aurocs[candidate][name]}", rng,
                          n_boot, 0.12)
        ax.plot([0, 1], [0, 1], ls=":", color="grey", lw=1)
        ax.set(xlabel="1 - specificity", ylabel="sensitivity",
               title=f"{name} vs rest (AUROC, 95 % CI)")
        ax.legend(loc="lower right", fontsize=7)
    return _save(fig, path)


def plot_three_class_calibration(y: np.ndarray, probabilities: dict[str, np.ndarray],
                                 path: Path, *, bins: int = 10) -> Path:
    """Observed share of each class by decile of its predicted probability."""
    plt = _pyplot()
    y = np.asarray(y).astype(int)
    fig, axes = plt.subplots(1, len(THREE_CLASSES), figsize=(15, 4.8))
    for j, (ax, name) in enumerate(zip(axes, THREE_CLASSES, strict=True)):
        yj = (y == j).astype(float)
        for candidate, preds in probabilities.items():
            p = np.nanmean(np.asarray(preds).reshape(-1, len(y), len(THREE_CLASSES)),
                           axis=0)[:, j]
            frame = pd.DataFrame({"p": p, "y": yj, "bin": _deciles(p, bins)}).groupby("bin")
            n, k = frame["y"].size().to_numpy(float), frame["y"].sum().to_numpy(float)
            lo, hi = _wilson(k, n)
            share = k / n
            ax.errorbar(frame["p"].mean(), share, yerr=np.clip([share - lo, hi - share], 0,
                                                               None),
                        marker="o", ms=4, capsize=2, lw=1, label=candidate)
        ax.plot([0, 1], [0, 1], ls=":", color="grey", lw=1, label="ideal")
        ax.set(xlim=(0, 1), ylim=(0, 1), xlabel=f"predicted P({name})",
               ylabel=f"observed share {name}", title=f"Calibration: {name}")
        ax.legend(loc="upper left", fontsize=7)
    return _save(fig, path)

"""Helpers shared by the benchmarks: medians of repeated runs, per-seed summaries."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import numpy as np


def median_seconds(func: Callable[[], object], repeat: int = 3) -> float:
    """Median wall time of ``repeat`` calls (the machine is noisy; medians, not means)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def print_mean_sd(rows: list[dict], skip: tuple[str, ...], width: int) -> None:
    """Mean, SD (over seeds), min and max of every figure of ``rows`` but ``skip``."""
    for key in [k for k in rows[0] if k not in skip]:
        values = np.array([r[key] for r in rows])
        sd = values.std(ddof=1) if len(values) > 1 else float("nan")
        print(f"  {key:<{width}} mean {values.mean():.4f}  SD {sd:.4f}  "
              f"min {values.min():.4f}  max {values.max():.4f}")

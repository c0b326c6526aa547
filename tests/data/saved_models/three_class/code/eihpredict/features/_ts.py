"""Temporal summation (TS) features.

Two forms are in use: the difference ``last - first`` of a train's NRS ratings
(``ts_diff``), and the DFNS wind-up ratio ``series / single`` on the 0-100 scale,
analysed as ``ts_wur_log = log10(ratio)`` (Rolke 2006; log-transformed before
z-scores). A zero rating would make the ratio infinite or undefined, so both ratings
are offset by ``offset`` (default 0.1, the DFNS convention for log-transforming zeros)
before dividing: ``(series + offset) / (single + offset)``. Higher = more facilitation.
"""

from __future__ import annotations

import numpy as np

from ._base import ContractTransformer

__all__ = ["TemporalSummationFeatures"]


class TemporalSummationFeatures(ContractTransformer):
    """TS difference and log wind-up ratio.

    Parameters
    ----------
    offset : float, default=0.1
        Added to single and series ratings before the ratio (zero-rating guard).

    Attributes
    ----------
    feature_names_out_ : ndarray of str
        ``ts_diff`` (when first/last ratings exist) and ``ts_wur_log`` (when DFNS
        single/series ratings exist).

    Examples
    --------
    >>> import pandas as pd
    >>> X = pd.DataFrame({"ts_first_nrs": [3.0], "ts_last_nrs": [6.0],
    ...                   "ts_single_nrs": [0.0], "ts_series_nrs": [9.9]})
    >>> TemporalSummationFeatures().fit_transform(X).round(3).tolist()
    [[3.0, 2.0]]
    """

    group = "ts"

    def __init__(self, offset=0.1):
        self.offset = offset

    def _validate_params(self) -> None:
        if not isinstance(self.offset, int | float) or self.offset <= 0:
            raise ValueError(f"Got offset={self.offset!r}; expected a positive number.")

    def _inputs(self):
        return ("ts_first_nrs", "ts_last_nrs", "ts_single_nrs", "ts_series_nrs")

    def _required(self):
        return (("ts_first_nrs", "ts_last_nrs"), ("ts_single_nrs", "ts_series_nrs"))

    def _outputs(self, present):
        out = []
        if {"ts_first_nrs", "ts_last_nrs"} <= present:
            out.append("ts_diff")
        if {"ts_single_nrs", "ts_series_nrs"} <= present:
            out.append("ts_wur_log")
        return out

    def _compute(self, cols, n):
        out = {}
        if "ts_diff" in self.feature_names_out_:
            out["ts_diff"] = cols["ts_last_nrs"] - cols["ts_first_nrs"]
        if "ts_wur_log" in self.feature_names_out_:
            with np.errstate(invalid="ignore", divide="ignore"):
                out["ts_wur_log"] = np.log10(
                    (cols["ts_series_nrs"] + self.offset) / (cols["ts_single_nrs"] + self.offset)
                )
        return out

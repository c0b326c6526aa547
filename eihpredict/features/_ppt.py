"""Pain sensitivity features: log PPT and sex-specific normative z-scores.

The reference table is fixed (nothing is learned from the data, so nothing leaks):
mean PPT of pain-free adults by sex, at the exercising (quadriceps, vastus lateralis)
site about 560 kPa in men and 440 kPa in women, and at a remote (hand) site 427 and
305 kPa (Chesterton et al. 2003, Clin J Pain 19:42-49, 1 cm2 probe, about 50 kPa/s).
PPT is log-normal with an SD of about 35-50 % of the mean (``docs/domain.md``); the
z-score uses a log-scale SD of 0.38 (about 39 %):

    z = (ln(ppt) - ln(reference_mean) + 0.38**2 / 2) / 0.38

so z = 0 is the reference median and negative z means more sensitive than the norm.
"""

from __future__ import annotations

import numpy as np

from ._base import ContractTransformer, equals

__all__ = ["PainSensitivityFeatures", "PPT_REFERENCE_KPA", "PPT_REFERENCE_LOG_SD"]

PPT_REFERENCE_KPA = {
    "ppt_local_kpa": {"male": 560.0, "female": 440.0},
    "ppt_remote_kpa": {"male": 427.0, "female": 305.0},
}
PPT_REFERENCE_LOG_SD = 0.38


class PainSensitivityFeatures(ContractTransformer):
    """Log PPT and sex-normalised PPT z-scores at the local and remote sites.

    Parameters
    ----------
    zscores : bool, default=True
        Add the sex-specific z-scores (needs ``sex``).

    Attributes
    ----------
    feature_names_out_ : ndarray of str
        ``ppt_local_log``, ``ppt_local_z``, ``ppt_remote_log``, ``ppt_remote_z`` (those
        whose PPT column exists).

    Examples
    --------
    >>> import pandas as pd
    >>> X = pd.DataFrame({"ppt_local_kpa": [440.0], "sex": ["female"]})
    >>> PainSensitivityFeatures().fit_transform(X).round(3).tolist()
    [[6.087, 0.19]]
    """

    group = "ppt"

    def __init__(self, zscores=True):
        self.zscores = zscores

    def _inputs(self):
        return ("ppt_local_kpa", "ppt_remote_kpa", "sex")

    def _required(self):
        return (("ppt_local_kpa",), ("ppt_remote_kpa",))

    def _outputs(self, present):
        out = []
        for col in PPT_REFERENCE_KPA:
            if col in present:
                stem = col.removesuffix("_kpa")
                out.append(f"{stem}_log")
                if self.zscores and "sex" in present:
                    out.append(f"{stem}_z")
        return out

    def _compute(self, cols, n):
        out = {}
        sex = cols.get("sex")
        for col, reference in PPT_REFERENCE_KPA.items():
            if col not in cols:
                continue
            stem = col.removesuffix("_kpa")
            with np.errstate(invalid="ignore", divide="ignore"):
                log = np.where(cols[col] > 0, np.log(cols[col]), np.nan)
            out[f"{stem}_log"] = log
            if f"{stem}_z" in self.feature_names_out_:
                ref = np.full(n, np.nan)
                ref[equals(sex, "male")] = reference["male"]
                ref[equals(sex, "female")] = reference["female"]
                sd = PPT_REFERENCE_LOG_SD
                out[f"{stem}_z"] = (log - np.log(ref) + sd**2 / 2) / sd
        return out

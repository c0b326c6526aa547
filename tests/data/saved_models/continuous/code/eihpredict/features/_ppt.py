"""Pain sensitivity features: log PPT and sex-specific normative z-scores.

The reference table is fixed (nothing is learned from the data, so nothing leaks):
mean PPT of pain-free adults by sex. The local site is the exercising muscle
(``exercise_muscle``, contract v2), whose norms differ by site (``docs/domain.md``,
"Local PPT norms"); a file without that column is read as the v1 contract did, the
quadriceps (vastus lateralis: about 560 kPa in men and 440 kPa in women). The remote
(hand) site uses 427 and 305 kPa (Chesterton et al. 2003, Clin J Pain 19:42-49, 1 cm2
probe, about 50 kPa/s). PPT is log-normal with an SD of about 35-50 % of the mean
(``docs/domain.md``); the z-score uses a log-scale SD of 0.38 (about 39 %):

    z = (ln(ppt) - ln(reference_mean) + 0.38**2 / 2) / 0.38

so z = 0 is the reference median and negative z means more sensitive than the norm. A
row whose muscle is ``other`` or blank has no local norm, so its local z-score is
missing (never a quadriceps z-score in disguise); its log PPT is still given.
"""

from __future__ import annotations

import numpy as np

from ..schema import EXERCISE_MUSCLES
from ._base import ContractTransformer, equals

__all__ = ["LOCAL_PPT_NORMS_KPA", "PainSensitivityFeatures", "PPT_REFERENCE_KPA",
           "PPT_REFERENCE_LOG_SD"]

PPT_REFERENCE_KPA = {
    "ppt_local_kpa": {"male": 560.0, "female": 440.0},
    "ppt_remote_kpa": {"male": 427.0, "female": 305.0},
}
#: Mean PPT (kPa) of pain-free adults at the exercising muscle, by sex (docs/domain.md).
#: ``other`` has no norm.
LOCAL_PPT_NORMS_KPA = {
    "quadriceps": {"male": 560.0, "female": 440.0},
    "forearm": {"male": 430.0, "female": 310.0},
    "biceps": {"male": 470.0, "female": 350.0},
    "trapezius": {"male": 450.0, "female": 330.0},
    "calf": {"male": 600.0, "female": 460.0},
}
PPT_REFERENCE_LOG_SD = 0.38


class PainSensitivityFeatures(ContractTransformer):
    """Log PPT and sex-normalised PPT z-scores at the local and remote sites.

    Parameters
    ----------
    zscores : bool, default=True
        Add the sex-specific z-scores (needs ``sex``).
    local_norms : dict, optional
        Local-site norms by muscle, ``{muscle: {"male": kPa, "female": kPa}}``, replacing
        :data:`LOCAL_PPT_NORMS_KPA` for the muscles given (e.g. a lab's own norms).

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
    >>> X = X.assign(exercise_muscle=["forearm"])  # 440 kPa is high for a forearm
    >>> PainSensitivityFeatures().fit_transform(X).round(3).tolist()
    [[6.087, 1.112]]
    """

    group = "ppt"

    def __init__(self, zscores=True, local_norms=None):
        self.zscores = zscores
        self.local_norms = local_norms

    def _validate_params(self):
        for muscle, norm in (self.local_norms or {}).items():
            ok = (muscle in EXERCISE_MUSCLES and isinstance(norm, dict)
                  and set(norm) == {"male", "female"}
                  and all(isinstance(v, int | float) and v > 0 for v in norm.values()))
            if not ok:
                raise ValueError(
                    f"Got local_norms[{muscle!r}]={norm!r}; expected a muscle of "
                    f"{', '.join(EXERCISE_MUSCLES)} with {{'male': kPa, 'female': kPa}}, "
                    "both positive.")

    def _inputs(self):
        return ("ppt_local_kpa", "ppt_remote_kpa", "sex", "exercise_muscle")

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

    def _reference(self, col, cols, n):
        """Each row's reference mean (NaN where none applies)."""
        sex = cols.get("sex")
        ref = np.full(n, np.nan)
        if col == "ppt_local_kpa" and "exercise_muscle" in cols:
            norms = {**LOCAL_PPT_NORMS_KPA, **(self.local_norms or {})}
            for muscle, norm in norms.items():
                at = equals(cols["exercise_muscle"], muscle)
                for s in ("male", "female"):
                    ref[at & equals(sex, s)] = norm[s]
            return ref
        for s in ("male", "female"):
            ref[equals(sex, s)] = PPT_REFERENCE_KPA[col][s]
        return ref

    def _compute(self, cols, n):
        out = {}
        for col in PPT_REFERENCE_KPA:
            if col not in cols:
                continue
            stem = col.removesuffix("_kpa")
            with np.errstate(invalid="ignore", divide="ignore"):
                log = np.where(cols[col] > 0, np.log(cols[col]), np.nan)
            out[f"{stem}_log"] = log
            if f"{stem}_z" in self.feature_names_out_:
                sd = PPT_REFERENCE_LOG_SD
                ref = self._reference(col, cols, n)
                out[f"{stem}_z"] = (log - np.log(ref) + sd**2 / 2) / sd
        return out

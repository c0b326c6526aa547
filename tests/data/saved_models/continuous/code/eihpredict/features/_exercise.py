"""Exercise bout features: modality, intensity, duration and a dose term.

The dose term is intensity-weighted duration, ``exercise_dose = intensity_pct / 100 *
duration_min`` ("intensity-minutes"), so ten minutes at 70 % count as seven minutes of
maximal effort. EIH is larger after isometric and dynamic resistance than after aerobic
exercise (Naugle 2012) and grows with intensity (Tomschi 2024); intensity is stated
relative to the modality's own maximum (% VO2max, HR reserve or MVC), which is why the
modality indicators stay in the model next to the dose.
"""

from __future__ import annotations

from ..schema import COLUMN_BY_NAME
from ._base import ContractTransformer, one_hot

__all__ = ["ExerciseDoseFeatures"]


class ExerciseDoseFeatures(ContractTransformer):
    """Modality indicators, intensity, duration and intensity-minutes.

    Parameters
    ----------
    dose : bool, default=True
        Add ``exercise_dose`` (needs intensity and duration).

    Attributes
    ----------
    feature_names_out_ : ndarray of str

    Examples
    --------
    >>> import pandas as pd
    >>> X = pd.DataFrame({"exercise_modality": ["isometric"], "exercise_intensity_pct": [30.0],
    ...                   "exercise_duration_min": [3.0]})
    >>> est = ExerciseDoseFeatures().fit(X)
    >>> list(est.get_feature_names_out())[-1], est.transform(X)[0, -1].round(2)
    ('exercise_dose', np.float64(0.9))
    """

    group = "exercise"

    def __init__(self, dose=True):
        self.dose = dose

    def _inputs(self):
        return ("exercise_modality", "exercise_intensity_pct", "exercise_duration_min")

    def _required(self):
        return (("exercise_modality",), ("exercise_intensity_pct",), ("exercise_duration_min",))

    def _outputs(self, present):
        out = []
        if "exercise_modality" in present:
            out += [f"exercise_modality_{c}" for c in
                    COLUMN_BY_NAME["exercise_modality"].categories]
        out += [c for c in ("exercise_intensity_pct", "exercise_duration_min") if c in present]
        if self.dose and {"exercise_intensity_pct", "exercise_duration_min"} <= present:
            out.append("exercise_dose")
        return out

    def _compute(self, cols, n):
        out = {}
        if "exercise_modality" in cols:
            out.update(one_hot(cols["exercise_modality"],
                               COLUMN_BY_NAME["exercise_modality"].categories,
                               "exercise_modality"))
        for col in ("exercise_intensity_pct", "exercise_duration_min"):
            if col in cols:
                out[col] = cols[col]
        if "exercise_dose" in self.feature_names_out_:
            out["exercise_dose"] = cols["exercise_intensity_pct"] / 100.0 * cols[
                "exercise_duration_min"]
        return out

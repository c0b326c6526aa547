"""Demographic and clinical features: sex, population, age, BMI, pain, physical activity.

Numbers pass through unchanged (``pain_duration_months`` also as ``log1p``, since it
spans 0 to hundreds of months); ``sex_female`` is 0/1; the population is one-hot
encoded with ``population_chronic_pain`` (any chronic pain population) beside it.
Missing values stay missing here: LightGBM routes them natively, and the linear
pipeline adds median imputation with ``*_missing`` indicators
(:class:`~eihpredict.features.ImputeWithIndicators`).
"""

from __future__ import annotations

import numpy as np

from ..schema import COLUMN_BY_NAME
from ._base import ContractTransformer, one_hot

__all__ = ["ClinicalFeatures", "CLINICAL_GROUPS"]

CLINICAL_GROUPS: dict[str, tuple[str, ...]] = {
    "sex": ("sex",),
    "population": ("population",),
    "age": ("age_years",),
    "bmi": ("bmi_kg_m2",),
    "pain": ("pain_duration_months", "pain_intensity_nrs"),
    "physical_activity": ("physical_activity_met_min_week",),
}


class ClinicalFeatures(ContractTransformer):
    """Demographic and clinical columns as model-ready numbers.

    Parameters
    ----------
    groups : tuple of str, default=all of ``CLINICAL_GROUPS``
        Which groups to produce: sex, population, age, bmi, pain, physical_activity.

    Attributes
    ----------
    feature_names_out_ : ndarray of str

    Examples
    --------
    >>> import pandas as pd
    >>> X = pd.DataFrame({"sex": ["female", "male"], "pain_duration_months": [0.0, 12.0],
    ...                   "pain_intensity_nrs": [0.0, 6.0]})
    >>> est = ClinicalFeatures(groups=("sex", "pain")).fit(X)
    >>> list(est.get_feature_names_out())
    ['sex_female', 'pain_duration_months', 'pain_duration_log1p', 'pain_intensity_nrs']
    """

    def __init__(self, groups=tuple(CLINICAL_GROUPS)):
        self.groups = groups

    @property
    def group(self) -> str:
        return "/".join(self.groups)

    def _validate_params(self) -> None:
        unknown = set(self.groups) - set(CLINICAL_GROUPS)
        if unknown or not len(self.groups):
            raise ValueError(
                f"Got groups={self.groups!r}; expected a non-empty subset of "
                f"{tuple(CLINICAL_GROUPS)}."
            )

    def _inputs(self):
        return tuple(c for g in CLINICAL_GROUPS if g in self.groups for c in CLINICAL_GROUPS[g])

    def _required(self):
        return tuple((c,) for c in self._inputs())

    def _outputs(self, present):
        out = []
        for col in self._inputs():
            if col not in present:
                continue
            if col == "sex":
                out.append("sex_female")
            elif col == "population":
                out += [f"population_{c}" for c in COLUMN_BY_NAME["population"].categories]
                out.append("population_chronic_pain")
            elif col == "pain_duration_months":
                out += [col, "pain_duration_log1p"]
            else:
                out.append(col)
        return out

    def _compute(self, cols, n):
        out = {}
        for col, values in cols.items():
            if col == "sex":
                out["sex_female"] = one_hot(values, ("female",), "sex")["sex_female"]
            elif col == "population":
                coded = one_hot(values, COLUMN_BY_NAME["population"].categories, "population")
                out.update(coded)
                out["population_chronic_pain"] = 1.0 - coded["population_healthy"]
            elif col == "pain_duration_months":
                out[col] = values
                with np.errstate(invalid="ignore"):
                    out["pain_duration_log1p"] = np.log1p(np.where(values >= 0, values, np.nan))
            else:
                out[col] = values
        return out

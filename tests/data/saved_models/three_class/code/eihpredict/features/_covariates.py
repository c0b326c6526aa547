"""Outcome covariates: contract numbers that enter a model unchanged, under their own name.

A continuous EIH model adjusts for the pre-exercise PPT of its outcome (ANCOVA: the
change ``post - pre`` is modelled with ``pre`` as a covariate, which takes regression to
the mean out of the other predictors' effects). That value is an outcome column
(``eih_ppt_pre_kpa``), not one of the feature groups a config names; this transformer
passes it to the model as the feature ``eih_ppt_pre_kpa`` (group ``eih``).
"""

from __future__ import annotations

from ..schema import COLUMN_BY_NAME
from ._base import ContractTransformer

__all__ = ["OutcomeCovariates"]


class OutcomeCovariates(ContractTransformer):
    """Pass numeric contract columns through unchanged (kPa stay kPa).

    Parameters
    ----------
    columns : tuple of str, default=("eih_ppt_pre_kpa",)
        Numeric contract columns; each one present at fit becomes a feature of the same
        name (at least one must be present).

    Attributes
    ----------
    feature_names_out_ : ndarray of str
        The column names.

    Examples
    --------
    >>> import pandas as pd
    >>> X = pd.DataFrame({"eih_ppt_pre_kpa": [410.0, None], "sex": ["female", "male"]})
    >>> OutcomeCovariates().fit_transform(X).tolist()
    [[410.0], [nan]]
    """

    group = "eih"

    def __init__(self, columns=("eih_ppt_pre_kpa",)):
        self.columns = columns

    def _validate_params(self) -> None:
        columns = tuple(self.columns)
        bad = [c for c in columns if c not in COLUMN_BY_NAME
               or not COLUMN_BY_NAME[c].is_numeric]
        if bad or not columns:
            raise ValueError(f"Got columns={self.columns!r}; expected numeric contract "
                             "columns such as ('eih_ppt_pre_kpa',).")

    def _inputs(self):
        return tuple(self.columns)

    def _required(self):
        return tuple((c,) for c in self.columns)

    def _outputs(self, present):
        return [c for c in self.columns if c in present]

    def _compute(self, cols, n):
        return {c: cols[c] for c in self.inputs_}

"""Exact SHAP values of a trained model, in log-odds, on the contract's feature names.

The values come from the fitted-model protocol
(:meth:`eihpredict.modeling.FittedModel.contributions`), the one explanation path for
the report, batch scoring and the endpoint:

* LightGBM: exact TreeSHAP through LightGBM's own ``pred_contrib`` (identical to
  ``shap.TreeExplainer`` with the tree-path-dependent algorithm, without its overhead).
* Logistic regression: exact linear SHAP with the training data as background. The
  features are standardised on the training data, so their background mean is 0 and
  ``phi_j = coef_j * x_j``; the base value is the intercept.

For every row, ``base_value + sum(contributions)`` equals the model's raw
(pre-calibration) log-odds. Contributions are summed per source group by name
(``pcs_total`` and ``pcs_rumination`` -> ``pcs``; contract section 2).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..features import FEATURE_GROUPS
from ..modeling import Contributions, FittedModel

__all__ = ["Explanation", "explain_frame", "feature_group", "group_contributions",
           "top_contributions"]

def _groups() -> list[str]:
    return sorted((*FEATURE_GROUPS, "site"), key=len, reverse=True)  # live: instruments


def feature_group(name: str) -> str:
    """The source group of a feature name.

    Examples
    --------
    >>> feature_group("pcs_rumination"), feature_group("sex_female")
    ('pcs', 'sex')
    >>> feature_group("physical_activity_met_min_week_missing")
    'physical_activity'
    """
    for group in _groups():
        if name == group or name.startswith(group + "_"):
            return group
    return name.split("_", 1)[0]


@dataclass
class Explanation:
    """SHAP values of some rows.

    Attributes
    ----------
    values : DataFrame (rows x features)
        Contributions to the raw log-odds of impaired EIH.
    data : DataFrame (rows x features)
        The feature values explained (as the model saw them, before scaling).
    base_value : float or ndarray
        Expected raw score (the output with no information); per row when rows were
        explained for different outputs or by different fitted models.
    """

    values: pd.DataFrame
    data: pd.DataFrame
    base_value: float | np.ndarray

    @property
    def raw_log_odds(self) -> np.ndarray:
        return self.base_value + self.values.to_numpy().sum(axis=1)

    def by_group(self) -> pd.DataFrame:
        return group_contributions(self.values)


def explain_frame(model: FittedModel, frame: pd.DataFrame,
                  output: int | None = None) -> Explanation:
    """Exact SHAP values for validated rows (the model's :meth:`~FittedModel.contributions`).

    For an ensemble, the average of its members' explanations on the union of their
    features (a feature a member lacks contributes 0 for it), which adds up to the
    ensemble's raw log-odds, the average of the members'. A three-class model has SHAP
    values per class: ``output`` picks the class (0 hypoalgesia, 1 no change, 2
    hyperalgesia); by default each row's predicted class (as the top-K explanations).
    """
    batch = model.batch(frame)
    contributions = model.explanation(batch) if output is None else \
        model.contributions(batch).select(output)
    return explanation_of(contributions, frame.index)


def explanation_of(contributions: Contributions, index=None) -> Explanation:
    """An :class:`Explanation` (DataFrames) of protocol contributions."""
    names = contributions.names
    return Explanation(pd.DataFrame(contributions.values, columns=names, index=index),
                       pd.DataFrame(contributions.data, columns=names, index=index),
                       contributions.base)


def group_contributions(values: pd.DataFrame) -> pd.DataFrame:
    """Sum contributions per source group (columns in first-seen order)."""
    groups = [feature_group(c) for c in values.columns]
    return values.T.groupby(groups, sort=False).sum().T


def top_contributions(explanation: Explanation | Contributions, k: int) -> pd.DataFrame:
    """The ``k`` largest contributions per row (:meth:`Contributions.top`: by absolute
    value, ties in feature order).

    Returns columns ``feature_i``, ``value_i``, ``contribution_i`` for i = 1..k.
    """
    if isinstance(explanation, Explanation):
        index = explanation.values.index
        explanation = Contributions(explanation.values.to_numpy(),
                                    explanation.data.to_numpy(dtype="float64"),
                                    explanation.base_value, list(explanation.values.columns))
    else:
        index = None
    idx, data, values = explanation.top(k)
    names = np.asarray(explanation.names, dtype=object)
    out = {}
    for i in range(idx.shape[1]):
        out[f"feature_{i + 1}"] = names[idx[:, i]]
        out[f"value_{i + 1}"] = data[:, i]
        out[f"contribution_{i + 1}"] = values[:, i]
    return pd.DataFrame(out, index=index)

"""Exact SHAP values of a trained model, in log-odds, on the contract's feature names.

One explanation path for the report, batch scoring and the endpoint:

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
from ..modeling import TrainedModel
from ..modeling._estimators import lgbm_threads

__all__ = ["Explanation", "explain_frame", "feature_group", "group_contributions",
           "top_contributions"]

_GROUPS = sorted((*FEATURE_GROUPS, "site"), key=len, reverse=True)


def feature_group(name: str) -> str:
    """The source group of a feature name.

    Examples
    --------
    >>> feature_group("pcs_rumination"), feature_group("sex_female")
    ('pcs', 'sex')
    >>> feature_group("physical_activity_met_min_week_missing")
    'physical_activity'
    """
    for group in _GROUPS:
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
    base_value : float
        Expected raw log-odds (the output with no information).
    """

    values: pd.DataFrame
    data: pd.DataFrame
    base_value: float

    @property
    def raw_log_odds(self) -> np.ndarray:
        return self.base_value + self.values.to_numpy().sum(axis=1)

    def by_group(self) -> pd.DataFrame:
        return group_contributions(self.values)


def _linear_parts(model: TrainedModel, frame: pd.DataFrame):
    pipeline = model.pipeline
    features = pipeline.named_steps["features"].transform(frame)
    imputed = pipeline.named_steps["impute"].transform(features)
    return imputed, pipeline.named_steps["scale"].transform(imputed)


def explain_frame(model: TrainedModel, frame: pd.DataFrame) -> Explanation:
    """Exact SHAP values for validated rows (see the module docstring).

    For an ensemble, the average of its members' explanations on the union of their
    features (a feature a member lacks contributes 0 for it), which adds up to the
    ensemble's raw log-odds, the average of the members'.
    """
    if model.kind == "ensemble":
        parts = [explain_frame(member, frame) for member in model.members]
        names = model.feature_names
        values = sum(p.values.reindex(columns=names, fill_value=0.0) for p in parts) / len(parts)
        data = parts[0].data.reindex(columns=names)
        for part in parts[1:]:
            data = data.fillna(part.data.reindex(columns=names))
        return Explanation(values, data, float(np.mean([p.base_value for p in parts])))
    estimator = model.pipeline.named_steps["model"]
    if model.kind == "lightgbm":
        features = model.pipeline[:-1].transform(frame)
        contrib = estimator.booster_.predict(features.to_numpy(dtype="float64"),
                                             pred_contrib=True,
                                             num_threads=lgbm_threads(len(features)))
        names = list(features.columns)
        values = pd.DataFrame(contrib[:, :-1], columns=names, index=frame.index)
        base = float(contrib[0, -1]) if len(contrib) else float(
            estimator.booster_.predict(np.zeros((1, len(names))), pred_contrib=True)[0, -1])
        return Explanation(values, features, base)
    imputed, scaled = _linear_parts(model, frame)
    coef = estimator.coef_[0]
    names = list(scaled.columns)
    values = pd.DataFrame(scaled.to_numpy() * coef, columns=names, index=frame.index)
    return Explanation(values, imputed, float(estimator.intercept_[0]))


def group_contributions(values: pd.DataFrame) -> pd.DataFrame:
    """Sum contributions per source group (columns in first-seen order)."""
    groups = [feature_group(c) for c in values.columns]
    return values.T.groupby(groups, sort=False).sum().T


def top_contributions(explanation: Explanation, k: int) -> pd.DataFrame:
    """The ``k`` largest contributions (by absolute value) per row, vectorised.

    Returns columns ``feature_i``, ``value_i``, ``contribution_i`` for i = 1..k.
    """
    values = explanation.values.to_numpy()
    k = min(k, values.shape[1])
    if k <= 0:
        return pd.DataFrame(index=explanation.values.index)
    part = np.argpartition(-np.abs(values), k - 1, axis=1)[:, :k]
    rows = np.arange(len(values))[:, None]
    order = np.argsort(-np.abs(values[rows, part]), axis=1, kind="stable")
    idx = part[rows, order]
    names = np.asarray(explanation.values.columns, dtype=object)
    data = explanation.data.to_numpy(dtype="float64")
    out = {}
    for i in range(k):
        out[f"feature_{i + 1}"] = names[idx[:, i]]
        out[f"value_{i + 1}"] = data[np.arange(len(values)), idx[:, i]]
        out[f"contribution_{i + 1}"] = values[np.arange(len(values)), idx[:, i]]
    return pd.DataFrame(out, index=explanation.values.index)

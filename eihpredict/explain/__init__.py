"""SHAP explanations, biomarker stability against a null reference, and the report."""

from ._biomarkers import BiomarkerReport, discover_biomarkers, interaction_strengths
from ._shap import Explanation, explain_frame, feature_group, group_contributions, top_contributions

__all__ = [
    "BiomarkerReport",
    "Explanation",
    "discover_biomarkers",
    "explain_frame",
    "feature_group",
    "group_contributions",
    "interaction_strengths",
    "top_contributions",
]

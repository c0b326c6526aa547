"""SHAP explanations, biomarker stability against a null reference, and the report."""

from ._biomarkers import BiomarkerReport, discover_biomarkers, interaction_strengths
from ._report import REPORT_FILES, ExplainResult, explain_model
from ._shap import Explanation, explain_frame, feature_group, group_contributions, top_contributions

__all__ = [
    "REPORT_FILES",
    "BiomarkerReport",
    "ExplainResult",
    "Explanation",
    "discover_biomarkers",
    "explain_frame",
    "explain_model",
    "feature_group",
    "group_contributions",
    "interaction_strengths",
    "top_contributions",
]

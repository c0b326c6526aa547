"""Feature transformers (scikit-learn estimators) and the pipeline builder.

Every output name starts with its source group (contract section 2), so explanations
trace back to the measurement they came from.
"""

from ._base import ContractTransformer, column_values, is_missing
from ._clinical import CLINICAL_GROUPS, ClinicalFeatures
from ._covariates import OutcomeCovariates
from ._cpm import CPMFeatures, CPMRatingFeatures
from ._exercise import ExerciseDoseFeatures, baseline_moderators
from ._missing import ImputeWithIndicators
from ._pipeline import (
    DEFAULT_FEATURE_GROUPS,
    FEATURE_GROUPS,
    build_feature_pipeline,
    build_feature_union,
    feature_groups,
    feature_options,
)
from ._ppt import LOCAL_PPT_NORMS_KPA, PPT_REFERENCE_KPA, PainSensitivityFeatures
from ._questionnaires import SCALES, QuestionnaireScorer, scales
from ._ts import TemporalSummationFeatures

__all__ = [
    "CLINICAL_GROUPS",
    "DEFAULT_FEATURE_GROUPS",
    "FEATURE_GROUPS",
    "LOCAL_PPT_NORMS_KPA",
    "PPT_REFERENCE_KPA",
    "SCALES",
    "CPMFeatures",
    "CPMRatingFeatures",
    "ClinicalFeatures",
    "ContractTransformer",
    "ExerciseDoseFeatures",
    "baseline_moderators",
    "ImputeWithIndicators",
    "OutcomeCovariates",
    "PainSensitivityFeatures",
    "QuestionnaireScorer",
    "TemporalSummationFeatures",
    "build_feature_pipeline",
    "build_feature_union",
    "feature_groups",
    "feature_options",
    "column_values",
    "is_missing",
    "scales",
]

"""The trained model: a fitted feature + estimator pipeline, a calibrator and a threshold."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from ._calibration import Calibrator
from ._estimators import raw_log_odds

__all__ = ["TrainedModel"]


@dataclass
class TrainedModel:
    """Everything needed to turn validated cohort rows into a probability of impaired EIH.

    Attributes
    ----------
    pipeline : Pipeline
        Fitted features + estimator (LightGBM or logistic regression).
    calibrator : Calibrator
        Maps the pipeline's raw log-odds to calibrated probabilities.
    threshold : float
        Calibrated probability at or above which a row is predicted ``impaired``.
    candidate, kind : str
        Name and family of the chosen candidate.
    groups : list of str
        Feature groups.
    input_columns : list of str
        Contract columns the features read.
    """

    pipeline: Pipeline
    calibrator: Calibrator
    threshold: float
    candidate: str
    kind: str
    groups: list[str]
    input_columns: list[str]

    @property
    def feature_names(self) -> list[str]:
        return list(self.pipeline[:-1].get_feature_names_out())

    def raw_log_odds(self, frame: pd.DataFrame) -> np.ndarray:
        """Raw (pre-calibration) log-odds of impaired EIH."""
        return raw_log_odds(self.pipeline, frame)

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """Calibrated probability of impaired EIH for validated rows."""
        return self.calibrator.predict(self.raw_log_odds(frame))

    def features(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The model's feature matrix for validated rows (names as in explanations)."""
        return self.pipeline[:-1].transform(frame)

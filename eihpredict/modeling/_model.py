"""The trained model: a fitted feature + estimator pipeline, a calibrator and a threshold."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from ._calibration import Calibrator
from ._estimators import raw_log_odds

__all__ = ["EnsembleModel", "TrainedModel"]


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

    @property
    def feature_step(self):
        """The fitted feature step of the pipeline."""
        return self.pipeline.named_steps["features"]

    def features(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The model's feature matrix for validated rows (names as in explanations)."""
        return self.pipeline[:-1].transform(frame)


@dataclass
class EnsembleModel:
    """The average of several trained models' raw log-odds, calibrated once.

    Its SHAP values are the average of the members' (on the union of their features),
    so they still add up to its raw log-odds.
    """

    members: list[TrainedModel]
    calibrator: Calibrator
    threshold: float
    candidate: str
    groups: list[str]
    input_columns: list[str]
    kind: str = "ensemble"

    @property
    def feature_names(self) -> list[str]:
        names: list[str] = []
        for member in self.members:
            names += [n for n in member.feature_names if n not in names]
        return names

    def raw_log_odds(self, frame: pd.DataFrame) -> np.ndarray:
        return sum(m.raw_log_odds(frame) for m in self.members) / len(self.members)

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        return self.calibrator.predict(self.raw_log_odds(frame))

    @property
    def feature_step(self):
        """The widest member's fitted feature step (for refits that need one)."""
        return max(self.members, key=lambda m: len(m.groups)).pipeline.named_steps["features"]

"""Fitted models: every kind implements the one protocol of :mod:`._protocol`.

:class:`FittedModel` is the protocol (abstract methods on a :class:`ColumnBatch`) plus
its DataFrame adapters (``predict_proba``, ``raw_log_odds``, ``features``), written once.
:class:`TrainedModel` is one fitted pipeline with its calibrator and threshold;
:class:`EnsembleModel` averages its members' raw log-odds and calibrates once. Callers
(batch scoring, the service, the pyfunc wrapper, explanations, biomarkers) use only the
protocol, never ``kind`` or a pipeline's fitted attributes.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from ._calibration import Calibrator
from ._protocol import ColumnBatch, Contributions, PipelineScorer

__all__ = ["OUTPUT_COLUMNS", "EnsembleModel", "FittedModel", "TrainedModel"]

#: Output columns of a binary model, in order (contract sections 3-4, then the share of
#: the model's inputs that were missing).
OUTPUT_COLUMNS = ("p_impaired_eih", "eih_prediction", "missing_input_share")


class FittedModel(ABC):
    """The fitted-model protocol (see :mod:`eihpredict.modeling._protocol`).

    Attributes every implementation has: ``candidate`` (name), ``kind`` (family, for
    people: metadata and model card; never dispatched on), ``groups`` (feature groups),
    ``input_columns`` (contract columns the features read), ``threshold`` and
    ``calibrator``.
    """

    candidate: str
    kind: str
    groups: list[str]
    input_columns: list[str]
    threshold: float
    calibrator: Calibrator

    # -- the protocol ---------------------------------------------------------------------
    @property
    @abstractmethod
    def feature_names(self) -> list[str]:
        """Names of the features contributions are given for."""

    @property
    @abstractmethod
    def feature_names_in(self) -> list[str]:
        """Names of the feature matrix (:meth:`feature_matrix`), before imputation."""

    @abstractmethod
    def raw_score(self, batch: ColumnBatch) -> np.ndarray:
        """Raw (pre-calibration) log-odds of impaired EIH."""

    @abstractmethod
    def contributions(self, batch: ColumnBatch) -> Contributions:
        """Exact SHAP values adding up to :meth:`raw_score`."""

    @abstractmethod
    def feature_matrix(self, batch: ColumnBatch) -> np.ndarray:
        """The features before imputation and scaling (columns ``feature_names_in``)."""

    def interaction_values(self, batch: ColumnBatch) -> tuple[list[str], np.ndarray] | None:
        """SHAP interaction values ``(names, array (n, p, p))``, or ``None`` when the
        model has none (a linear model)."""
        return None

    output_columns: tuple[str, ...] = OUTPUT_COLUMNS

    def outputs(self, raw: np.ndarray) -> dict[str, np.ndarray]:
        """Output columns from raw scores: the calibrated probability of impaired EIH and
        the label at the model's threshold (``impaired`` at or above, else
        ``responder``)."""
        p = self.calibrator.predict(raw)
        return {"p_impaired_eih": p,
                "eih_prediction": np.where(p >= self.threshold, "impaired", "responder")}

    def predict(self, batch: ColumnBatch) -> dict[str, np.ndarray]:
        """The output columns for a batch of validated rows, then
        ``missing_input_share``: the share of the model's input columns missing in the
        row (a prediction from mostly missing inputs leans on what was learned about
        missingness, not on the participant)."""
        return {**self.outputs(self.raw_score(batch)),
                "missing_input_share": self.missing_share(batch)}

    def missing_share(self, batch: ColumnBatch) -> np.ndarray:
        """Per row, the share of :attr:`input_columns` that is missing."""
        from ..features import is_missing

        columns = [c for c in self.input_columns if c != "participant_id"]
        if not columns:
            return np.zeros(batch.n)
        missing = np.zeros(batch.n)
        for column in columns:
            values = batch.columns.get(column)
            missing += 1.0 if values is None else is_missing(values)
        return missing / len(columns)

    # -- DataFrame adapters ---------------------------------------------------------------
    def batch(self, frame: pd.DataFrame) -> ColumnBatch:
        """The model's input columns of a validated frame (a missing one is an error)."""
        missing = [c for c in self.input_columns if c not in frame.columns]
        if missing:
            raise ValueError(
                f"the input lacks column(s) the model needs: {', '.join(missing)} "
                f"(model {self.candidate!r}, feature groups {', '.join(self.groups)})"
            )
        return ColumnBatch.from_frame(frame, self.input_columns)

    def raw_log_odds(self, frame: pd.DataFrame) -> np.ndarray:
        """Raw (pre-calibration) log-odds for validated rows."""
        return self.raw_score(self.batch(frame))

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """Calibrated probability of impaired EIH for validated rows."""
        return self.predict(self.batch(frame))["p_impaired_eih"]

    def features(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The feature matrix of validated rows before imputation and scaling."""
        return pd.DataFrame(self.feature_matrix(self.batch(frame)),
                            columns=self.feature_names_in, index=frame.index)


@dataclass
class TrainedModel(FittedModel):
    """One fitted pipeline, a calibrator and a threshold.

    Attributes
    ----------
    pipeline : Pipeline
        Fitted features + estimator (see :func:`eihpredict.modeling.make_pipeline`).
    calibrator : Calibrator
        Maps the pipeline's raw log-odds to calibrated probabilities.
    threshold : float
        Calibrated probability at or above which a row is predicted ``impaired``.
    candidate, kind : str
        Name and family of the candidate.
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
    def scorer(self) -> PipelineScorer:
        """The protocol's implementation for this pipeline (built once, not pickled)."""
        scorer = self.__dict__.get("_scorer")
        if scorer is None:
            scorer = self.__dict__["_scorer"] = PipelineScorer(self.pipeline)
        return scorer

    def __getstate__(self):
        return {k: v for k, v in self.__dict__.items() if k != "_scorer"}

    @property
    def feature_names(self) -> list[str]:
        return self.scorer.feature_names

    @property
    def linear(self) -> bool:
        """A linear model (imputation, standardisation, linear estimator)."""
        return self.scorer.linear

    @property
    def feature_names_in(self) -> list[str]:
        return self.scorer.feature_names_in

    def raw_score(self, batch: ColumnBatch) -> np.ndarray:
        return self.scorer.raw_score(batch)

    def contributions(self, batch: ColumnBatch) -> Contributions:
        return self.scorer.contributions(batch)

    def feature_matrix(self, batch: ColumnBatch) -> np.ndarray:
        return self.scorer.features(batch)

    def interaction_values(self, batch: ColumnBatch):
        return self.scorer.interaction_values(batch)


@dataclass
class EnsembleModel(FittedModel):
    """The average of several trained models' raw log-odds, calibrated once.

    Its SHAP values are the average of the members' on the union of their features (a
    feature a member lacks contributes 0 for it), so they still add up to its raw
    log-odds; a feature's value is the first member's that has one.
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
        return list(dict.fromkeys(n for m in self.members for n in m.feature_names))

    @property
    def feature_names_in(self) -> list[str]:
        return list(dict.fromkeys(n for m in self.members for n in m.feature_names_in))

    def raw_score(self, batch: ColumnBatch) -> np.ndarray:
        return sum(m.raw_score(batch) for m in self.members) / len(self.members)

    def contributions(self, batch: ColumnBatch) -> Contributions:
        names = self.feature_names
        parts = [(m.contributions(batch), m.feature_names) for m in self.members]
        values, data = _union(names, batch.n, parts)
        values /= len(self.members)
        base = float(np.mean([contrib.base for contrib, _ in parts]))
        return Contributions(values, data, base, names)

    def feature_matrix(self, batch: ColumnBatch) -> np.ndarray:
        names = self.feature_names_in
        parts = [(Contributions(np.zeros((batch.n, len(m.feature_names_in))),
                                m.feature_matrix(batch), 0.0, m.feature_names_in),
                  m.feature_names_in) for m in self.members]
        return _union(names, batch.n, parts)[1]

    def interaction_values(self, batch: ColumnBatch):
        """The first member that has interactions (a LightGBM member) gives them."""
        for member in self.members:
            found = member.interaction_values(batch)
            if found is not None:
                return found
        return None


def _union(names: list[str], n: int, parts) -> tuple[np.ndarray, np.ndarray]:
    """Sum the parts' values and take the first non-missing data, on ``names``."""
    index = {name: j for j, name in enumerate(names)}
    values = np.zeros((n, len(names)))
    data = np.full((n, len(names)), np.nan)
    for contrib, part_names in parts:
        cols = np.array([index[name] for name in part_names], dtype=int)
        values[:, cols] += contrib.values
        fill = np.isnan(data[:, cols])
        data[:, cols] = np.where(fill, contrib.data, data[:, cols])
    return values, data

"""Fitted models: every kind implements the one protocol of :mod:`._protocol`.

:class:`FittedModel` is the protocol (abstract methods on a :class:`ColumnBatch`) plus
its DataFrame adapters (``predict_proba``, ``raw_log_odds``, ``features``), written once.
:class:`TrainedModel` is one fitted pipeline with its output map (calibrator and
threshold, predictive distribution, or class calibrator: :mod:`._outputs`);
:class:`EnsembleModel` averages its members' raw scores and calibrates once;
:class:`CovariateAdjustedModel` answers each row with a model adjusted for a covariate
when the row has it, else with one fitted without it. Callers (batch scoring, the
service, the pyfunc wrapper, explanations, biomarkers) use only the protocol, never
``kind`` or a pipeline's fitted attributes.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from ..features import is_missing
from ._calibration import Calibrator
from ._outputs import BinaryOutputs, OutputMap
from ._protocol import ColumnBatch, Contributions, PipelineScorer, missing_explanation_share

__all__ = ["MISSINGNESS_COLUMNS", "MISSING_DOMINATES", "OUTPUT_COLUMNS", "CovariateAdjustedModel",
           "EnsembleModel", "FittedModel", "RefitParts", "TrainedModel"]

#: Columns every model adds after its task's outputs: how much of the row was missing and
#: how much of its explanation rests on missing inputs.
MISSINGNESS_COLUMNS = ("missing_input_share", "missing_explanation_share", "missing_dominated")

#: A prediction is ``missing_dominated`` when more than this share of its explanation
#: (sum of absolute contributions) comes from inputs that were missing, or more than this
#: share of its input columns were missing (a mean-imputed input contributes little, so
#: the explanation alone understates a row that was mostly never measured).
MISSING_DOMINATES = 0.5

#: Output columns of a binary model, in order (contract sections 3-4, then
#: :data:`MISSINGNESS_COLUMNS`).
OUTPUT_COLUMNS = (*BinaryOutputs.columns, *MISSINGNESS_COLUMNS)


class FittedModel(ABC):
    """The fitted-model protocol (see :mod:`eihpredict.modeling._protocol`).

    Attributes every implementation has: ``candidate`` (name), ``kind`` (family, for
    people: metadata and model card; never dispatched on), ``groups`` (feature groups),
    ``input_columns`` (contract columns the features read), ``threshold`` and
    ``calibrator`` (a binary model's), ``output_map`` (how raw scores become the output
    columns; ``None`` in models saved before there were other tasks: binary) and
    ``optional_columns`` (columns read when given, missing otherwise).
    """

    candidate: str
    kind: str
    groups: list[str]
    input_columns: list[str]
    threshold: float
    calibrator: Calibrator | None
    output_map: OutputMap | None = None
    optional_columns: tuple[str, ...] = ()

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
        """Raw (pre-calibration) score: log-odds of impaired EIH (binary), the predicted
        change in kPa (continuous), or per-class logits of shape (n, K) (three classes)."""

    @abstractmethod
    def contributions(self, batch: ColumnBatch) -> Contributions:
        """Exact SHAP values adding up to :meth:`raw_score` ((n, p) or (n, p, K))."""

    @abstractmethod
    def feature_matrix(self, batch: ColumnBatch) -> np.ndarray:
        """The features before imputation and scaling (columns ``feature_names_in``)."""

    def interaction_values(self, batch: ColumnBatch) -> tuple[list[str], np.ndarray] | None:
        """SHAP interaction values ``(names, array (n, p, p))``, or ``None`` when the
        model has none (a linear model)."""
        return None

    @property
    def outputs_map(self) -> OutputMap:
        """The output map (a binary model saved without one: its calibrator and threshold)."""
        found = self.output_map
        return found if found is not None else BinaryOutputs(self.calibrator, self.threshold)

    @property
    def task(self) -> str:
        """``binary``, ``continuous`` or ``three_class``."""
        return self.outputs_map.task

    @property
    def output_columns(self) -> tuple[str, ...]:
        """The output columns, in order (contract sections 3, 4 and 6), then
        :data:`MISSINGNESS_COLUMNS`."""
        return (*self.outputs_map.columns, *MISSINGNESS_COLUMNS)

    @property
    def output_types(self) -> dict[str, str]:
        """``double`` or ``string`` per output column."""
        text = {*self.outputs_map.text_columns, "missing_dominated"}
        return {c: "string" if c in text else "double" for c in self.output_columns}

    def outputs(self, raw: np.ndarray) -> dict[str, np.ndarray]:
        """Output columns from raw scores (see :mod:`eihpredict.modeling._outputs`): for a
        binary model the calibrated probability of impaired EIH and the label at the
        model's threshold (``impaired`` at or above, else ``responder``)."""
        return self.outputs_map(raw)

    def predict(self, batch: ColumnBatch, explanation: Contributions | None = None, *,
                missing_explanation: bool = True) -> dict[str, np.ndarray]:
        """The output columns for a batch of validated rows, then the missingness columns.

        ``missing_input_share`` is the share of the model's input columns missing in the
        row; ``missing_explanation_share`` the share of the row's prediction (raw score,
        or the predicted class's logit, minus its expected value) carried by the features
        whose inputs were missing, including learned missing-value indicators, taken
        together: ``|phi_M| / (|phi_M| + |phi_O|)`` with ``phi_M, phi_O`` the two-group
        Shapley values of the missing and the observed features (:meth:`missing_split`,
        :func:`~eihpredict.modeling._protocol.missing_explanation_share`);
        ``missing_dominated`` is ``yes`` when that share or ``missing_input_share`` is
        above :data:`MISSING_DOMINATES` (the prediction leans on what was learned about
        missingness, or most of the row was never measured), else ``no``. Only rows with
        a missing input are computed (the others have share 0); a tree model's cost is a
        few tree walks per row, not TreeSHAP. ``missing_explanation=False`` leaves the two columns
        empty. ``explanation`` is accepted for compatibility and not needed.
        """
        raw = self.raw_score(batch)
        outputs = self.outputs_map.for_batch(raw, batch)
        missing = self.missing_share(batch)
        explained = np.zeros(batch.n)
        rows = missing > 0
        if not missing_explanation:
            return {**outputs, "missing_input_share": missing,
                    "missing_explanation_share": np.full(batch.n, np.nan),
                    "missing_dominated": np.full(batch.n, None, dtype=object)}
        if rows.any():
            split = self.missing_split(batch, raw[rows], rows=rows)
            if split.shape[2] > 1:
                chosen = np.asarray(self.outputs_map.explained(
                    {name: values[rows] for name, values in outputs.items()}), dtype=int)
                split = split[np.arange(len(chosen)), :, chosen]
            else:
                split = split[:, :, 0]
            explained[rows] = missing_explanation_share(split)
        dominated = np.where((explained > MISSING_DOMINATES) | (missing > MISSING_DOMINATES),
                             "yes", "no").astype(object)
        return {**outputs, "missing_input_share": missing,
                "missing_explanation_share": explained, "missing_dominated": dominated}

    def missing_split(self, batch: ColumnBatch, raw: np.ndarray | None = None,
                      rows: np.ndarray | None = None) -> np.ndarray:
        """Two-group Shapley values ``(phi_M, phi_O)`` of the missing and the observed
        features, shape (n, 2, K) (K = 1 for one output): they add up to the raw score
        minus its expected value. ``rows``: a mask of the batch's rows to compute (the
        answer has one row per selected row; the batch's features, already computed
        for its scores, are reused); ``raw``: :meth:`raw_score` of those rows, when
        known."""
        raise NotImplementedError(f"{type(self).__name__} has no missing_split")

    def missing_share(self, batch: ColumnBatch) -> np.ndarray:
        """Per row, the share of :attr:`input_columns` that is missing."""
        columns = [c for c in self.input_columns if c != "participant_id"]
        if not columns:
            return np.zeros(batch.n)
        missing = np.zeros(batch.n)
        for column in columns:
            values = batch.columns.get(column)
            missing += 1.0 if values is None else is_missing(values)
        return missing / len(columns)

    def explanation(self, batch: ColumnBatch) -> Contributions:
        """The contributions top-K explanations show, one output per row: the raw score's
        (binary log-odds, continuous kPa) or, for three classes, the logit of each row's
        predicted class."""
        contributions = self.contributions(batch)
        if contributions.values.ndim == 2:
            return contributions
        return contributions.select(self.outputs_map.explained(
            self.outputs(self.raw_score(batch))))

    # -- DataFrame adapters ---------------------------------------------------------------
    def batch(self, frame: pd.DataFrame) -> ColumnBatch:
        """The model's input columns of a validated frame (a missing one is an error; an
        absent optional column is all missing)."""
        missing = [c for c in self.input_columns if c not in frame.columns]
        if missing:
            raise ValueError(
                f"the input lacks column(s) the model needs: {', '.join(missing)} "
                f"(model {self.candidate!r}, feature groups {', '.join(self.groups)})"
            )
        optional = [c for c in self.optional_columns if c not in self.input_columns]
        return ColumnBatch.from_frame(frame, [*self.input_columns, *optional]).with_missing(
            optional)

    def raw_log_odds(self, frame: pd.DataFrame) -> np.ndarray:
        """Raw (pre-calibration) scores for validated rows (log-odds for a binary model)."""
        return self.raw_score(self.batch(frame))

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """Calibrated probability of impaired EIH for validated rows (binary, continuous),
        or class probabilities of shape (n, 3) (three classes)."""
        return self.outputs_map.probability(self.predict(self.batch(frame)))

    def features(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The feature matrix of validated rows before imputation and scaling."""
        return pd.DataFrame(self.feature_matrix(self.batch(frame)),
                            columns=self.feature_names_in, index=frame.index)


@dataclass
class TrainedModel(FittedModel):
    """One fitted pipeline and its output map.

    Attributes
    ----------
    pipeline : Pipeline
        Fitted features + estimator (see :func:`eihpredict.modeling.make_pipeline`).
    calibrator : Calibrator or None
        A binary model's: maps the pipeline's raw log-odds to calibrated probabilities.
    threshold : float
        Probability at or above which a row is predicted ``impaired`` (NaN for three
        classes).
    candidate, kind : str
        Name and family of the candidate.
    groups : list of str
        Feature groups.
    input_columns : list of str
        Contract columns the features read.
    output_map : OutputMap, optional
        Raw scores -> output columns (``None``: binary, from calibrator and threshold).
    """

    pipeline: Pipeline
    calibrator: Calibrator | None
    threshold: float
    candidate: str
    kind: str
    groups: list[str]
    input_columns: list[str]
    output_map: OutputMap | None = None

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

    def missing_split(self, batch: ColumnBatch, raw: np.ndarray | None = None,
                      rows: np.ndarray | None = None) -> np.ndarray:
        return self.scorer.missing_split(batch, raw, rows)

    def feature_matrix(self, batch: ColumnBatch) -> np.ndarray:
        return self.scorer.features(batch)

    def refit_parts(self) -> RefitParts:
        """Unfitted copies of this model's stages, to refit them apart (the biomarker
        resampling fits the estimator on a design with shadow columns added)."""
        from sklearn.base import clone

        named = dict(self.pipeline.steps)
        return RefitParts(features=clone(named["features"]),
                          impute=clone(named["impute"]) if "impute" in named else None,
                          estimator=clone(self.pipeline.steps[-1][1]))


    def interaction_values(self, batch: ColumnBatch):
        return self.scorer.interaction_values(batch)


@dataclass
class RefitParts:
    """A trained model's stages, unfitted (:meth:`TrainedModel.refit_parts`):
    ``features`` (the feature union), ``impute`` (median imputation with missing
    indicators; None for a tree model, which takes missing values itself) and
    ``estimator``. A linear model also standardises before its estimator."""

    features: object
    impute: object | None
    estimator: object

    @property
    def linear(self) -> bool:
        return self.impute is not None

    def fit_design(self, X: pd.DataFrame) -> pd.DataFrame:
        """Fit the features (and imputation) on ``X``; its design matrix."""
        design = self.features.fit_transform(X)
        return design if self.impute is None else self.impute.fit_transform(design)

    def design(self, X: pd.DataFrame) -> pd.DataFrame:
        """The design matrix of ``X`` by the stages :meth:`fit_design` fitted."""
        design = self.features.transform(X)
        return design if self.impute is None else self.impute.transform(design)

@dataclass
class EnsembleModel(FittedModel):
    """The average of several trained models' raw scores, calibrated once.

    Its SHAP values are the average of the members' on the union of their features (a
    feature a member lacks contributes 0 for it), so they still add up to its raw
    score; a feature's value is the first member's that has one.
    """

    members: list[TrainedModel]
    calibrator: Calibrator | None
    threshold: float
    candidate: str
    groups: list[str]
    input_columns: list[str]
    kind: str = "ensemble"
    output_map: OutputMap | None = None

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
        parts = [m.contributions(batch) for m in self.members]
        values, data = _union(names, batch.n, [(c, m.feature_names)
                                                for c, m in zip(parts, self.members,
                                                                strict=True)])
        values /= len(self.members)
        base = np.mean([np.asarray(c.base, dtype="float64") for c in parts], axis=0)
        return Contributions(values, data, float(base) if base.ndim == 0 else base, names,
                             parts[0].outputs)

    def missing_split(self, batch: ColumnBatch, raw: np.ndarray | None = None,
                      rows: np.ndarray | None = None) -> np.ndarray:
        """The members' average (a Shapley value is linear in the model)."""
        return sum(m.missing_split(batch, rows=rows) for m in self.members) / len(self.members)

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


@dataclass
class CovariateAdjustedModel(FittedModel):
    """A model adjusted for a covariate, with a fallback fitted without it.

    A row whose ``covariate`` (e.g. the pre-exercise PPT ``eih_ppt_pre_kpa`` of an
    ANCOVA-style continuous model) is given is answered by ``adjusted``; a row without
    it by ``unadjusted``, the same candidate and hyperparameters fitted without the
    covariate and calibrated on its own out-of-fold predictions. Each row's outputs,
    raw score and contributions are its model's (contributions on the union of the two
    models' features; ``base`` per row when a batch mixes the two).
    """

    adjusted: FittedModel
    unadjusted: FittedModel
    covariate: str
    candidate: str
    kind: str
    groups: list[str]
    input_columns: list[str]
    threshold: float
    calibrator: Calibrator | None = None

    @property
    def optional_columns(self) -> tuple[str, ...]:  # type: ignore[override]
        return (self.covariate,)

    @property
    def outputs_map(self) -> OutputMap:
        return self.adjusted.outputs_map

    def outputs(self, raw: np.ndarray) -> dict[str, np.ndarray]:
        raise TypeError("a covariate-adjusted model's outputs depend on which rows carry "
                        "the covariate; use predict(batch)")

    def has_covariate(self, batch: ColumnBatch) -> np.ndarray:
        """Rows answered by the adjusted model."""
        values = batch.columns.get(self.covariate)
        return np.zeros(batch.n, dtype=bool) if values is None else ~is_missing(values)

    def _split(self, batch: ColumnBatch):
        mask = self.has_covariate(batch)
        return mask, [(self.adjusted, mask), (self.unadjusted, ~mask)]

    @property
    def feature_names(self) -> list[str]:
        return list(dict.fromkeys([*self.adjusted.feature_names,
                                   *self.unadjusted.feature_names]))

    @property
    def feature_names_in(self) -> list[str]:
        return list(dict.fromkeys([*self.adjusted.feature_names_in,
                                   *self.unadjusted.feature_names_in]))

    def _merge(self, batch: ColumnBatch, answer) -> np.ndarray:
        mask, parts = self._split(batch)
        merged = None
        for model, rows in parts:
            if rows.any():
                part = np.asarray(answer(model, batch.take(rows)))
                if merged is None:
                    dtype = object if part.dtype.kind in "OUS" else part.dtype
                    merged = np.empty((batch.n, *part.shape[1:]), dtype=dtype)
                merged[rows] = part
        if merged is None:  # an empty batch
            merged = np.asarray(answer(self.adjusted, batch))
        return merged

    def raw_score(self, batch: ColumnBatch) -> np.ndarray:
        return self._merge(batch, lambda m, b: m.raw_score(b))

    def missing_split(self, batch: ColumnBatch, raw: np.ndarray | None = None,
                      rows: np.ndarray | None = None) -> np.ndarray:
        return self._merge(batch if rows is None else batch.take(rows),
                           lambda m, b: m.missing_split(b))

    def predict(self, batch: ColumnBatch, explanation: Contributions | None = None, *,
                missing_explanation: bool = True) -> dict[str, np.ndarray]:
        # Each row's missingness columns come from its own model (``explanation`` unused).
        answers: dict[int, dict[str, np.ndarray]] = {}  # each model predicts its rows once

        def column(name):
            def answer(model, rows):
                key = id(model)
                if key not in answers:
                    answers[key] = model.predict(
                        rows, missing_explanation=missing_explanation)
                return answers[key][name]
            return answer

        return {name: self._merge(batch, column(name)) for name in self.output_columns}

    def contributions(self, batch: ColumnBatch) -> Contributions:
        names = self.feature_names
        index = {name: j for j, name in enumerate(names)}
        values = np.zeros((batch.n, len(names)))
        data = np.full((batch.n, len(names)), np.nan)
        bases = np.empty(batch.n)
        whole: list[float] = []  # the base of a model that scored every row (or none)
        mask, parts = self._split(batch)
        for model, rows in parts:
            part = model.contributions(batch.take(rows))
            cols = np.array([index[name] for name in model.feature_names], dtype=int)
            where = np.flatnonzero(rows)
            values[np.ix_(where, cols)] = part.values
            data[np.ix_(where, cols)] = part.data
            bases[rows] = part.base
            if rows.all():
                whole.append(float(np.asarray(part.base)))
        base: float | np.ndarray = whole[0] if whole else bases
        return Contributions(values, data, base, names)

    def feature_matrix(self, batch: ColumnBatch) -> np.ndarray:
        names = self.feature_names_in
        index = {name: j for j, name in enumerate(names)}
        out = np.full((batch.n, len(names)), np.nan)
        for model, rows in self._split(batch)[1]:
            cols = np.array([index[name] for name in model.feature_names_in], dtype=int)
            out[np.ix_(np.flatnonzero(rows), cols)] = model.feature_matrix(batch.take(rows))
        return out

    def interaction_values(self, batch: ColumnBatch):
        """The adjusted model's when every row has the covariate, the unadjusted model's
        when none has it, else ``None``."""
        mask = self.has_covariate(batch)
        if mask.all():
            return self.adjusted.interaction_values(batch)
        if not mask.any():
            return self.unadjusted.interaction_values(batch)
        return None


def _union(names: list[str], n: int, parts) -> tuple[np.ndarray, np.ndarray]:
    """Sum the parts' values and take the first non-missing data, on ``names``."""
    index = {name: j for j, name in enumerate(names)}
    values = np.zeros((n, len(names), *parts[0][0].values.shape[2:]))
    data = np.full((n, len(names)), np.nan)
    for contrib, part_names in parts:
        cols = np.array([index[name] for name in part_names], dtype=int)
        values[:, cols] += contrib.values
        fill = np.isnan(data[:, cols])
        data[:, cols] = np.where(fill, contrib.data, data[:, cols])
    return values, data

"""The lean path for a few records (the HTTP endpoint): no DataFrame on the way.

A request of one participant spends most of its time in pandas, not in the model
(validating a 1-row frame cell by cell, building a frame per feature group). Here the
records arrive already checked field by field by the request model, which is
generated from the same contract (:func:`eihpredict.schema.participant_model`); this
class adds the cross-field rules (totals against items, unique ids) and computes the
features with the very same transformer code (each group's ``_compute`` on column
arrays), imputation, scaling, estimator and calibrator as :func:`score_frame`, so the
probabilities are identical to the last bit (``tests/serve/test_same_numbers.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .modeling import TrainedModel
from .schema import COLUMN_BY_NAME
from .validation import total_violations

__all__ = ["EnsembleRecordScorer", "RecordIssue", "RecordScorer", "record_scorer"]


@dataclass
class RecordIssue:
    index: int
    participant_id: str | None
    field: str
    value: Any
    rule: str


class RecordScorer:
    """Score validated records (dicts) with a trained model, without pandas."""

    def __init__(self, model: TrainedModel) -> None:
        self.model = model
        pipeline = model.pipeline
        union = pipeline.named_steps["features"]
        self.groups = [(t, list(t.inputs_), list(t.feature_names_out_))
                       for _, t in union.transformer_list]
        self.inputs = list(dict.fromkeys(c for _, cols, _ in self.groups for c in cols))
        self.estimator = pipeline.named_steps["model"]
        self.names = [n for _, _, names in self.groups for n in names]
        if model.kind == "logistic":
            impute = pipeline.named_steps["impute"]
            scale = pipeline.named_steps["scale"]
            self.fill = impute.statistics_
            self.indicators = impute.indicator_features_
            self.mean, self.scale = scale.mean_, scale.scale_
            self.coef, self.intercept = self.estimator.coef_[0], self.estimator.intercept_[0]
            self.names = list(scale.get_feature_names_out())
        else:
            self.booster = self.estimator.booster_

    def check(self, records: list[dict[str, Any]]) -> list[RecordIssue]:
        """Cross-field rules the per-field request model cannot see."""
        issues = []
        seen: dict[str, int] = {}
        for i, record in enumerate(records):
            pid = record.get("participant_id")
            if pid in seen:
                issues.append(RecordIssue(i, pid, "participant_id", pid,
                                          f"participant_id must be unique; same id as "
                                          f"participant {seen[pid]}"))
            else:
                seen[pid] = i
        columns = self._columns(records, [c for c in COLUMN_BY_NAME if any(
            c in r for r in records)], numeric_only=True)
        for column, wrong, total, messages in total_violations(columns, len(records)):
            for i in np.flatnonzero(wrong):
                issues.append(RecordIssue(int(i), records[i].get("participant_id"), column,
                                          float(total[i]), str(messages[i])))
        return issues

    @staticmethod
    def _columns(records: list[dict[str, Any]], names: list[str], numeric_only: bool = False
                 ) -> dict[str, np.ndarray]:
        cols = {}
        for name in names:
            spec = COLUMN_BY_NAME.get(name)
            values = [r.get(name) for r in records]
            if spec is not None and spec.is_numeric:
                cols[name] = np.array([np.nan if v is None else float(v) for v in values])
            elif not numeric_only:
                cols[name] = np.array([v.strip().lower() if isinstance(v, str) else None
                                       for v in values], dtype=object)
        return cols

    def features(self, records: list[dict[str, Any]]) -> np.ndarray:
        """The feature matrix, as the pipeline's feature step computes it."""
        n = len(records)
        cols = self._columns(records, self.inputs)
        blocks = []
        for transformer, inputs, names in self.groups:
            out = transformer._compute({c: cols[c] for c in inputs}, n)
            blocks.append(np.column_stack([out[name] for name in names]).astype("float64"))
        return np.hstack(blocks)

    def design(self, matrix: np.ndarray) -> np.ndarray:
        """What the estimator sees (logistic: imputed, indicators, scaled)."""
        if self.model.kind != "logistic":
            return matrix
        missing = np.isnan(matrix)
        filled = matrix.copy()
        filled[missing] = np.take(self.fill, np.nonzero(missing)[1])
        if len(self.indicators):
            filled = np.hstack([filled, missing[:, self.indicators].astype("float64")])
        filled -= self.mean
        filled /= self.scale
        return filled

    def raw_log_odds(self, design: np.ndarray) -> np.ndarray:
        if self.model.kind == "logistic":
            return (np.ascontiguousarray(design) * self.coef).sum(axis=1) + self.intercept
        return self.booster.predict(design, raw_score=True, num_threads=1)

    def score(self, records: list[dict[str, Any]], explain: int = 0
              ) -> tuple[np.ndarray, list[list[dict[str, Any]]] | None]:
        """Calibrated probabilities, and the ``explain`` largest contributions per record."""
        matrix = self.features(records)
        design = self.design(matrix)
        p = self.model.calibrator.predict(self.raw_log_odds(design))
        if explain <= 0:
            return p, None
        if self.model.kind == "logistic":
            contrib = design * self.coef
            shown = matrix if not len(self.indicators) else np.hstack(
                [np.where(np.isnan(matrix), np.take(self.fill, np.arange(matrix.shape[1])),
                          matrix), np.isnan(matrix)[:, self.indicators].astype("float64")])
        else:
            contrib = self.booster.predict(design, pred_contrib=True, num_threads=1)[:, :-1]
            shown = matrix
        k = min(explain, contrib.shape[1])
        order = np.argsort(-np.abs(contrib), axis=1, kind="stable")[:, :k]
        out = []
        for row, idx in enumerate(order):
            out.append([{"feature": self.names[j], "value": _finite(shown[row, j]),
                         "contribution": float(contrib[row, j])} for j in idx])
        return p, out


def _finite(value: float) -> float | None:
    return None if np.isnan(value) else float(value)


class EnsembleRecordScorer(RecordScorer):
    """An ensemble's lean path: the members' raw log-odds averaged, calibrated once."""

    def __init__(self, model) -> None:
        self.model = model
        self.parts = [RecordScorer(member) for member in model.members]
        self.names = list(model.feature_names)

    def raw(self, records: list[dict[str, Any]]) -> np.ndarray:
        raws = [part.raw_log_odds(part.design(part.features(records))) for part in self.parts]
        return sum(raws) / len(raws)

    def score(self, records: list[dict[str, Any]], explain: int = 0):
        raw = self.raw(records)
        p = self.model.calibrator.predict(raw)
        if explain <= 0:
            return p, None
        index = {name: j for j, name in enumerate(self.names)}
        contrib = np.zeros((len(records), len(self.names)))
        shown = np.full((len(records), len(self.names)), np.nan)
        for part in self.parts:
            _, parts_out = part.score(records, explain=len(part.names))
            for row, items in enumerate(parts_out):
                for item in items:
                    j = index[item["feature"]]
                    contrib[row, j] += item["contribution"] / len(self.parts)
                    if np.isnan(shown[row, j]) and item["value"] is not None:
                        shown[row, j] = item["value"]
        k = min(explain, contrib.shape[1])
        order = np.argsort(-np.abs(contrib), axis=1, kind="stable")[:, :k]
        out = [[{"feature": self.names[j], "value": _finite(shown[row, j]),
                 "contribution": float(contrib[row, j])} for j in idx]
               for row, idx in enumerate(order)]
        return p, out


def record_scorer(model) -> RecordScorer:
    """The lean scorer for a trained model or an ensemble."""
    return EnsembleRecordScorer(model) if model.kind == "ensemble" else RecordScorer(model)

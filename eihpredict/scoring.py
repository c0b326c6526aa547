"""The one scoring path: validated rows in, calibrated probabilities out.

:func:`score_frame` is what the batch CLI, the HTTP endpoint, the MLflow pyfunc
wrapper and notebooks all call, so the same row gets the same number everywhere.
Invalid rows are never scored and never dropped silently: they come back in
``rejects`` with their reasons.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .modeling import TrainedModel
from .schema import OUTCOME_COLUMNS
from .validation import DuplicateTracker, validate_frame

__all__ = ["ScoreResult", "score_frame"]


@dataclass
class ScoreResult:
    """Scores of the valid rows (input order) and the rejected rows with reasons."""

    scored: pd.DataFrame
    rejects: pd.DataFrame
    issues: pd.DataFrame


def score_frame(model: TrainedModel, frame: pd.DataFrame, *, first_row: int = 1,
                duplicates: DuplicateTracker | None = None,
                model_version: str | None = None, passthrough: bool = True) -> ScoreResult:
    """Validate ``frame`` and score its valid rows.

    Parameters
    ----------
    model : TrainedModel
    frame : DataFrame
        Cohort rows as read (text or typed); outcome columns are ignored.
    first_row : int
        Row number of the first row (for messages when scoring in chunks).
    duplicates : DuplicateTracker, optional
        Shared across chunks so ids stay unique across a whole file.
    model_version : str, optional
        Written to a ``model_version`` column when given.
    passthrough : bool
        Keep columns that are not model inputs (extra columns) in the output.

    Returns
    -------
    ScoreResult
        ``scored`` has ``participant_id``, ``p_impaired_eih``, ``eih_prediction``
        (``impaired`` at or above the model's threshold, else ``responder``), then
        ``model_version`` and pass-through columns; ``rejects`` holds the invalid
        input rows as given plus ``row`` and ``reasons``.
    """
    inputs = frame.drop(columns=[c for c in OUTCOME_COLUMNS if c in frame])
    checked = validate_frame(inputs, first_row=first_row, duplicates=duplicates)
    valid = checked.valid
    typed = checked.frame.loc[valid]
    missing = [c for c in model.input_columns if c not in typed.columns]
    if missing:
        raise ValueError(
            f"the input lacks column(s) the model needs: {', '.join(missing)} "
            f"(model {model.candidate!r}, feature groups {', '.join(model.groups)})"
        )
    p = model.predict_proba(typed) if len(typed) else np.empty(0)
    scored = pd.DataFrame({
        "participant_id": typed["participant_id"].to_numpy(dtype=object),
        "p_impaired_eih": p,
        "eih_prediction": np.where(p >= model.threshold, "impaired", "responder"),
    })
    if model_version is not None:
        scored["model_version"] = model_version
    if passthrough:
        from .schema import COLUMN_BY_NAME

        extra = [c for c in frame.columns if c not in COLUMN_BY_NAME]
        for col in extra:
            scored[col] = frame.loc[valid, col].to_numpy()
    rejected = ~valid
    rejects = frame.loc[rejected].copy()
    rows = np.arange(first_row, first_row + len(frame))[rejected]
    reasons = (checked.issues.assign(text=lambda d: d["column"] + ": " + d["rule"])
               .groupby("row")["text"].agg("; ".join))
    rejects.insert(0, "row", rows)
    rejects.insert(1, "reasons", reasons.reindex(rows).to_numpy())
    return ScoreResult(scored=scored, rejects=rejects.reset_index(drop=True),
                       issues=checked.issues)

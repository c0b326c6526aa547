"""MLflow pyfunc wrapper: lets ``mlflow.pyfunc.load_model`` and ``mlflow models serve``
use a model directory unchanged. Imported only when MLflow is needed."""

from __future__ import annotations

import mlflow.pyfunc
import pandas as pd

__all__ = ["EIHPyfuncModel"]


class EIHPyfuncModel(mlflow.pyfunc.PythonModel):
    """Predicts the calibrated probability of impaired EIH (column ``p_impaired_eih``).

    Rows are validated against the cohort contract first, through the same
    :func:`eihpredict.scoring.score_frame` as the CLI and the service; an invalid row
    raises a ``ValueError`` naming row, column and rule (pyfunc cannot return rejects).
    """

    def load_context(self, context) -> None:
        import joblib

        self.model = joblib.load(context.artifacts["model"])

    def predict(self, context, model_input, params=None):  # no hints: MLflow's signature rules
        from .scoring import score_frame
        from .validation import format_issue

        frame = pd.DataFrame(model_input)
        result = score_frame(self.model, frame, passthrough=False)
        if len(result.rejects):
            first = format_issue(result.issues.iloc[0])
            raise ValueError(f"{len(result.rejects)} invalid row(s); first: {first}")
        return result.scored[["p_impaired_eih"]].reset_index(drop=True)

"""MLflow pyfunc wrapper: lets ``mlflow.pyfunc.load_model``, ``spark_udf`` and ``mlflow
models serve`` use a model directory unchanged. Imported only when MLflow is needed."""

from __future__ import annotations

import mlflow.pyfunc
import numpy as np
import pandas as pd

__all__ = ["EIHPyfuncModel", "pyfunc_output"]


def pyfunc_output(model, frame: pd.DataFrame, mapping=None,
                  min_observed_share: float = 0.0) -> pd.DataFrame:
    """One output row per input row, in input order (contract section 6).

    Valid rows carry the model's outputs (``p_impaired_eih``, ``eih_prediction``);
    an invalid row has empty outputs and its ``reject_reason``, so one bad row never
    fails a batch (or a Spark job). ``participant_id`` is the id as given. ``mapping``
    is the model's stored study mapping, applied to a frame in the study's names;
    a row with less than ``min_observed_share`` of the inputs observed is a reject.
    """
    from .scoring import score_frame, stored_mapping

    frame = frame.reset_index(drop=True)
    mapping = stored_mapping(mapping, frame.columns)
    result = score_frame(model, frame, passthrough=False, mapping=mapping,
                         min_observed_share=min_observed_share)
    n = len(frame)
    valid = result.valid
    ids = np.full(n, None, dtype=object)
    ids[valid] = result.scored["participant_id"].to_numpy(dtype=object)
    if "participant_id" in frame:  # an invalid row keeps its id as given
        given = frame["participant_id"].astype("object")
        ids[~valid] = [None if pd.isna(v) else str(v) for v in given[~valid]]
    out = pd.DataFrame({"participant_id": ids})
    for name in model.output_columns:
        values = result.scored[name].to_numpy()
        column = (np.full(n, np.nan) if np.issubdtype(values.dtype, np.floating)
                  else np.full(n, None, dtype=object))
        column[valid] = values
        out[name] = column
    reasons = np.full(n, None, dtype=object)
    reasons[~valid] = result.rejects["reasons"].to_numpy()
    out["reject_reason"] = reasons
    return out


class EIHPyfuncModel(mlflow.pyfunc.PythonModel):
    """Predicts with the model directory's fitted model (:func:`pyfunc_output`).

    Accepts what ``pandas.read_csv`` gives (integer ids, integer item columns): rows
    are validated against the cohort contract by the same validator and scored by the
    same :func:`eihpredict.scoring.score_frame` as the CLI and the service.
    """

    def load_context(self, context) -> None:
        import json
        from pathlib import Path

        import joblib

        from .model_dir import LoadedModel

        self.model = joblib.load(context.artifacts["model"])
        # metadata.json (stored study mapping, minimum observed share) sits two levels
        # above the artifact.
        directory = Path(context.artifacts["model"]).parents[1]
        path = directory / "metadata.json"
        metadata = json.loads(path.read_text()) if path.exists() else {}
        loaded = LoadedModel(self.model, metadata, directory)
        self.mapping = loaded.mapping  # parsed once
        self.min_observed_share = loaded.min_observed_share

    def predict(self, context, model_input: pd.DataFrame, params=None):
        # A DataFrame hint: MLflow infers no schema from it (the signature says Any per
        # column, so integer ids pass) and does not warn about missing hints.
        return pyfunc_output(self.model, pd.DataFrame(model_input), self.mapping,
                             getattr(self, "min_observed_share", 0.0))

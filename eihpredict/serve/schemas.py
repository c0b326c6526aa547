"""Request and response models. The participant record is generated from the cohort
contract (:func:`eihpredict.schema.participant_model`), never written by hand."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..schema import participant_model

__all__ = ["ModelInfo", "Prediction", "PredictionResponse", "prediction_request_model"]

Participant = participant_model()


def prediction_request_model(max_participants: int) -> type[BaseModel]:
    """``{"participants": [...]}`` with 1 to ``max_participants`` records."""

    class PredictionRequest(BaseModel):
        model_config = ConfigDict(extra="forbid")  # an unknown body key is a 422

        participants: list[Participant] = Field(  # type: ignore[valid-type]
            ..., min_length=1, max_length=max_participants,
            description=f"1 to {max_participants} participants (cohort contract columns).",
        )

    return PredictionRequest


class Contribution(BaseModel):
    feature: str
    value: float | None
    contribution: float = Field(description="Contribution to the raw log-odds.")


class Prediction(BaseModel):
    participant_id: str
    p_impaired_eih: float = Field(ge=0, le=1)
    eih_prediction: str = Field(description="impaired or responder, at the model's threshold")
    missing_input_share: float | None = Field(
        None, ge=0, le=1, description="Share of the model's input fields that were missing.")
    contributions: list[Contribution] | None = None


class PredictionResponse(BaseModel):
    model_version: str
    predictions: list[Prediction]


class ModelInfo(BaseModel):
    model_version: str
    contract_version: int
    candidate: str
    kind: str
    features: list[str]
    input_columns: list[str]
    threshold: dict[str, Any]
    label_rule: dict[str, Any]
    validation_metrics: dict[str, Any]
    training_data: dict[str, Any]


class Health(BaseModel):
    status: str
    model_loaded: bool
    model_version: str | None = None

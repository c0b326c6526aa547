"""Request and response models. The participant record is generated from the cohort
contract (:func:`eihpredict.schema.participant_model`), never written by hand."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..schema import participant_model

__all__ = ["ModelInfo", "Prediction", "PredictionResponse", "PrescriptionResponse",
           "PrescriptionRow", "prediction_request_model"]

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
    contribution: float = Field(description="Contribution to the raw score: log-odds of "
                                "impaired EIH (binary), predicted change in kPa (continuous), "
                                "or the logit of the predicted class (three classes).")


class Prediction(BaseModel):
    """One participant's outputs; which fields are present depends on the model's task
    (``GET /model``: ``task``, ``output_columns``)."""

    participant_id: str
    p_impaired_eih: float | None = Field(
        None, ge=0, le=1, description="P(impaired EIH) (binary and continuous models).")
    eih_prediction: Literal["impaired", "responder"] | None = Field(
        None, description="impaired or responder, at the model's threshold (binary and "
        "continuous models).")
    predicted_change_kpa: float | None = Field(
        None, description="Predicted PPT change post - pre, kPa (continuous models).")
    change_pi_low: float | None = Field(
        None, description="Lower end of the prediction interval of the change, kPa "
        "(continuous models; 80 % unless the model says otherwise).")
    change_pi_high: float | None = Field(
        None, description="Upper end of the prediction interval of the change, kPa.")
    p_hypoalgesia: float | None = Field(None, ge=0, le=1, description="Three-class models.")
    p_no_change: float | None = Field(None, ge=0, le=1, description="Three-class models.")
    p_hyperalgesia: float | None = Field(None, ge=0, le=1, description="Three-class models.")
    eih_class: Literal["hypoalgesia", "no_change", "hyperalgesia"] | None = Field(
        None, description="The most probable class (three-class models).")
    missing_input_share: float | None = Field(
        None, ge=0, le=1, description="Share of the model's input fields that were missing.")
    missing_explanation_share: float | None = Field(
        None, ge=0, le=1, description="Share of the prediction carried by the inputs that "
        "were missing, taken together: |phi_M| / (|phi_M| + |phi_O|), the two-group "
        "Shapley values of the missing and the observed features.")
    missing_dominated: Literal["yes", "no"] | None = Field(
        None, description="yes when more than half of the explanation comes from missing "
        "inputs: the prediction rests on what was learned about missingness.")
    contributions: list[Contribution] | None = None


class PredictionResponse(BaseModel):
    model_version: str
    predictions: list[Prediction]


class ModelInfo(BaseModel):
    model_version: str
    contract_version: int
    candidate: str
    kind: str
    task: Literal["binary", "continuous", "three_class"]
    output_columns: list[str]
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


class PrescriptionRow(BaseModel):
    """One participant and candidate exercise (contract v3, ``eihpredict prescribe``)."""

    participant_id: str
    option: str = Field(description="modality intensity% duration-min")
    exercise_modality: str
    exercise_intensity_pct: float
    exercise_duration_min: float
    p_impaired_eih: float = Field(ge=0, le=1, description="P(impaired EIH) with this option.")
    p_low: float = Field(ge=0, le=1, description="95 % interval (participant bootstrap).")
    p_high: float = Field(ge=0, le=1)
    rank: int = Field(ge=1, description="1 = lowest P(impaired EIH).")
    difference_to_best: float = Field(description="P minus the best option's P (>= 0).")
    difference_low: float
    difference_high: float


class PrescriptionResponse(BaseModel):
    """The heterogeneity test and the causal reading come first, then the rankings."""

    model_version: str
    heterogeneity: dict[str, Any] | None
    allocation: str
    causal: str
    warnings: list[str]
    n_bootstrap: int
    interval: str
    prescriptions: list[PrescriptionRow]

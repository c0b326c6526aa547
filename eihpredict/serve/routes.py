"""Routes: validate, call the scoring path, return. Nothing else happens here."""


import logging
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, status
from fastapi.responses import JSONResponse

from ..schema import CONTRACT_VERSION
from .deps import ServedModel, get_model, require_api_key
from .schemas import Health, ModelInfo, PredictionResponse, prediction_request_model
from .settings import ServiceSettings

__all__ = ["build_router"]

logger = logging.getLogger("eihpredict.serve")


def build_router(settings: ServiceSettings) -> APIRouter:
    router = APIRouter()
    request_model = prediction_request_model(settings.max_participants)
    secured = [Depends(require_api_key)]

    @router.get("/health", response_model=Health, tags=["service"])
    def health(served: Annotated[ServedModel, Depends(get_model)]) -> dict[str, Any]:
        """Liveness, and whether the model is loaded."""
        return {"status": "ok", "model_loaded": True, "model_version": served.loaded.version}

    @router.get("/model", response_model=ModelInfo, dependencies=secured, tags=["model"])
    def model_info(served: Annotated[ServedModel, Depends(get_model)]) -> dict[str, Any]:
        """Version, features, threshold, validation metrics and training data summary."""
        meta = served.loaded.metadata
        return {
            "model_version": served.loaded.version, "contract_version": CONTRACT_VERSION,
            "candidate": meta["candidate"], "kind": meta["kind"], "features": meta["features"],
            "input_columns": meta["input_columns"], "threshold": meta["threshold"],
            "label_rule": meta["label_rule"], "validation_metrics": meta["validation"],
            "training_data": {k: v for k, v in meta["training_data"].items() if k != "file"},
        }

    @router.post("/predict", response_model=PredictionResponse, dependencies=secured,
                 tags=["model"], responses={422: {"description": "invalid participant data"},
                                            413: {"description": "request body too large"}})
    async def predict(
        body: Annotated[request_model, Body()],  # type: ignore[valid-type]
        served: Annotated[ServedModel, Depends(get_model)],
        explain: Annotated[int, Query(ge=0, le=settings.max_explain,
                                      description="Return the K largest contributions per "
                                      "participant.")] = 0,
    ) -> JSONResponse:
        """Probability of impaired EIH for each participant (all or nothing)."""
        records = [p.model_dump() for p in body.participants]
        if settings.log_participant_data:
            logger.info("predict request: %s", records)
        issues = served.scorer.check(records)
        if issues:
            detail = [{"participant": i.index, "participant_id": i.participant_id,
                       "field": i.field, "value": i.value, "rule": i.rule} for i in issues]
            return JSONResponse({"detail": detail},
                                status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)
        p, contributions = served.scorer.score(records, explain)
        threshold = served.scorer.model.threshold
        predictions = []
        for i, record in enumerate(records):
            item = {"participant_id": record["participant_id"],
                    "p_impaired_eih": float(p[i]),
                    "eih_prediction": "impaired" if p[i] >= threshold else "responder"}
            if contributions is not None:
                item["contributions"] = contributions[i]
            predictions.append(item)
        return JSONResponse({"model_version": served.loaded.version,
                             "predictions": predictions})

    return router

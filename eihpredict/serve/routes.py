"""Routes: validate, call the scoring path, return. Nothing else happens here."""


import logging
from functools import partial
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Body, Depends, Query, status
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from ..prescribe import PrescriptionError, prescribe_records
from ..schema import CONTRACT_VERSION
from ..scoring import score_records, stored_mapping
from ._strict_json import StrictJSONRoute
from .deps import ServedModel, get_model, require_api_key
from .schemas import (
    Health,
    ModelInfo,
    PredictionResponse,
    PrescriptionResponse,
    prediction_request_model,
)
from .settings import ServiceSettings

__all__ = ["build_router"]

#: Participants x (1 + explain) scored on the event loop; more goes to the thread pool.
INLINE_WORK = 20

logger = logging.getLogger("eihpredict.serve")


def build_router(settings: ServiceSettings) -> APIRouter:
    router = APIRouter(route_class=StrictJSONRoute)  # duplicate JSON keys: 422
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
            "candidate": meta["candidate"], "kind": meta["kind"],
            "task": served.loaded.model.task,
            "output_columns": list(served.loaded.model.output_columns),
            "features": meta["features"],
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
        """The model's outputs for each participant (all or nothing): P(impaired EIH) and
        the label (binary); the predicted change, its interval and P(impaired EIH)
        (continuous; ``eih_ppt_pre_kpa`` is used when given); the three class
        probabilities and the most probable class (three classes).

        Large requests are scored in the thread pool, so scoring never holds up the
        event loop (``/health`` answers while a large request is scored).
        """
        records = [p.model_dump(exclude_unset=True) for p in body.participants]
        if settings.log_participant_data:
            logger.info("predict request: %s", records)
        mapping = stored_mapping(served.loaded.mapping,
                                 {k for r in records for k in r})
        score = partial(score_records, served.loaded.model, records, explain=explain,
                        mapping=mapping,
                        min_observed_share=served.loaded.min_observed_share)
        # A few participants are scored at once (about a millisecond, less than a thread
        # hop); larger requests go to the thread pool so the event loop (/health) never
        # waits on them.
        result = (score() if len(records) * (1 + explain) <= INLINE_WORK
                  else await run_in_threadpool(score))
        if result.issues:
            detail = [{"participant": i["position"], "participant_id": i["participant_id"],
                       "field": i["column"], "value": i["value"], "rule": i["rule"]}
                      for i in result.issues]
            return JSONResponse({"detail": detail},
                                status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)
        outputs = result.outputs
        predictions = []
        for i in range(len(records)):
            item = {name: _json_value(values[i]) for name, values in outputs.items()}
            if result.explanations is not None:
                item["contributions"] = result.explanations[i]
            predictions.append(item)
        return JSONResponse({"model_version": served.loaded.version,
                             "predictions": predictions},
                            headers={"Cache-Control": "no-store"})

    @router.post("/prescribe", response_model=PrescriptionResponse, dependencies=secured,
                 tags=["model"], responses={422: {"description": "invalid participant data, "
                                                  "or no prescription possible"},
                                            413: {"description": "request body too large"}})
    async def prescribe(
        body: Annotated[request_model, Body()],  # type: ignore[valid-type]
        served: Annotated[ServedModel, Depends(get_model)],
        allow_observational: Annotated[bool, Query(
            description="Prescribe from a model trained on observationally allocated "
            "exercise (differences are then associations).")] = False,
    ) -> JSONResponse:
        """Which exercise for each participant (contract v3): P(impaired EIH) per option
        seen in training with its 95 % interval, rank and difference to the best option;
        the heterogeneity test and whether the design supports a causal reading come
        first. Same body as ``/predict``; computed in the thread pool."""
        records = [p.model_dump(exclude_unset=True) for p in body.participants]
        if settings.log_participant_data:
            logger.info("prescribe request: %s", records)
        try:
            result = await run_in_threadpool(partial(
                prescribe_records, served.loaded, records,
                allow_observational=allow_observational))
        except PrescriptionError as exc:
            return JSONResponse({"detail": [{"field": "model", "rule": str(exc)}]},
                                status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)
        if isinstance(result, list):
            detail = [{"participant": i["position"], "participant_id": i["participant_id"],
                       "field": i["column"], "value": i["value"], "rule": i["rule"]}
                      for i in result]
            return JSONResponse({"detail": detail},
                                status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)
        rows = [{k: int(v) if isinstance(v, int | np.integer) else _json_value(v)
                 for k, v in row.items()} for row in result.table.to_dict("records")]
        return JSONResponse({"model_version": served.loaded.version, **result.about(),
                             "prescriptions": rows}, headers={"Cache-Control": "no-store"})

    return router


def _json_value(value: Any) -> Any:
    """A numpy scalar as plain JSON (NaN as null)."""
    if isinstance(value, np.floating | float):
        return None if np.isnan(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value if value is None or isinstance(value, str) else str(value)

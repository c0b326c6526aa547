"""Dependencies: the loaded model (from ``app.state``) and the API-key header the
OpenAPI schema declares (the key itself is checked once, by the request guard)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import APIKeyHeader

from ..model_dir import LoadedModel
from .settings import ServiceSettings

__all__ = ["ServedModel", "get_model", "get_settings", "require_api_key"]

_api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False)


@dataclass
class ServedModel:
    """The model directory loaded once in the lifespan (its model is a ``FittedModel``)."""

    loaded: LoadedModel


def get_settings(request: Request) -> ServiceSettings:
    return request.app.state.settings


def get_model(request: Request) -> ServedModel:
    model = getattr(request.app.state, "model", None)
    if model is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "model not loaded")
    return model


def require_api_key(key: Annotated[str | None, Depends(_api_key_header)]) -> None:
    """Declares the ``X-API-Key`` header of the secured routes in the OpenAPI schema.

    The key is checked once, by the app's request guard (:class:`eihpredict.serve.app.
    Guard`), before any body is read and for every path but ``/health``; a route is
    never reached with a wrong key, so this dependency compares nothing."""

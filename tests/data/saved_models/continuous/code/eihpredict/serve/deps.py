"""Dependencies: the loaded model (from ``app.state``) and the optional API key."""

from __future__ import annotations

import hmac
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


def require_api_key(key: Annotated[str | None, Depends(_api_key_header)],
                    settings: Annotated[ServiceSettings, Depends(get_settings)]) -> None:
    """Constant-time comparison; a no-op when no key is configured."""
    if settings.api_key is None:
        return
    expected = settings.api_key.get_secret_value().encode()
    if key is None or not hmac.compare_digest(key.encode(), expected):
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "missing or wrong X-API-Key",
                            headers={"WWW-Authenticate": "API-Key"})

"""The FastAPI application: model loaded once in the lifespan, strict input, safe limits.

``create_app(settings)`` builds an app; ``create_app_from_env()`` is the factory
uvicorn uses (``eihpredict serve``), reading ``EIHPREDICT_*`` settings.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import math
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from .. import __version__
from ..model_dir import LoadedModel, load_model_dir
from .deps import ServedModel
from .routes import build_router
from .settings import ServiceSettings

__all__ = ["create_app", "create_app_from_env"]

logger = logging.getLogger("eihpredict.serve")


def _echo(value: Any) -> Any:
    """A refused input value as the 422 may repeat it: JSON-representable (NaN and
    infinities as text), short, and never a whole body or a nested object."""
    if isinstance(value, bool | int) or value is None:
        return value if not isinstance(value, int) or abs(value) < 10**15 else str(value)[:40]
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, str):
        return value if len(value) <= 200 else value[:200] + "..."
    return None


def _validation_detail(exc: RequestValidationError, body: Any) -> list[dict[str, Any]]:
    """422 entries naming the participant (index and id), field and rule."""
    participants = body.get("participants") if isinstance(body, dict) else None
    out = []
    for error in exc.errors():
        loc = list(error.get("loc", ()))
        entry: dict[str, Any] = {"field": ".".join(str(p) for p in loc[1:]) or "body",
                                 "rule": error.get("msg", "invalid"),
                                 "value": _echo(error.get("input"))}
        if error.get("type") == "json_invalid":
            entry["field"] = "body"
            entry["rule"] = f"invalid JSON at character {loc[1] if len(loc) > 1 else 0}"
        elif len(loc) >= 3 and loc[:2] == ["body", "participants"] and isinstance(loc[2], int):
            index = loc[2]
            entry["participant"] = index
            entry["field"] = ".".join(str(p) for p in loc[3:]) or "participant"
            if isinstance(participants, list) and index < len(participants) and isinstance(
                    participants[index], dict):
                entry["participant_id"] = _echo(participants[index].get("participant_id"))
        elif loc[:1] == ["query"]:
            entry["field"] = ".".join(str(p) for p in loc)
        out.append(entry)
    return out


def create_app(settings: ServiceSettings | None = None, *,
               model: LoadedModel | None = None) -> FastAPI:
    """Build the service. ``model`` skips loading from ``settings.model_dir`` (tests)."""
    settings = settings or ServiceSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        loaded = model if model is not None else load_model_dir(settings.model_dir,
                                                                      settings.model_digest)
        app.state.model = ServedModel(loaded)
        logger.info("serving model %s", loaded.version)
        yield
        app.state.model = None

    app = FastAPI(
        title="eihpredict",
        version=__version__,
        summary="Probability of impaired exercise-induced hypoalgesia (EIH).",
        description="Research software, not a medical device. Limits: "
                    f"{settings.max_participants} participants per request, "
                    f"{settings.max_body_bytes} bytes per body, explain up to "
                    f"{settings.max_explain}.",
        lifespan=lifespan,
        max_body_size=settings.max_body_bytes,  # FastAPI answers 413 before parsing
        **({} if (settings.docs if settings.docs is not None else settings.api_key is None)
           else {"docs_url": None, "redoc_url": None, "openapi_url": None}),
    )
    app.state.settings = settings
    app.state.model = None
    app.include_router(build_router(settings))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": _validation_detail(exc, exc.body)},
                            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> JSONResponse:
        if isinstance(exc, HTTPException) and exc.status_code < 500:  # e.g. a late 413
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)
        # The exception's text may quote participant data: only its type is logged.
        logger.error("internal error on %s: %s", request.url.path, type(exc).__name__)
        return JSONResponse({"detail": "internal error"}, status_code=500)

    app.add_middleware(Guard, settings=settings)
    app.add_middleware(BodyTimeout, seconds=settings.body_timeout_seconds)
    if settings.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins,
                           allow_methods=["GET", "POST"], allow_headers=["X-API-Key",
                                                                          "Content-Type"])
    return app


class _SlowSender(BaseException):
    """The client stopped sending its body (a BaseException: no handler turns it into a
    500; :class:`BodyTimeout` answers 408 and closes)."""


class BodyTimeout:
    """ASGI middleware: a request body that does not arrive within ``seconds`` of the
    previous chunk gets 408 and the connection is closed (a half-sent request would
    otherwise hold a connection open forever)."""

    def __init__(self, app, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = False

        async def timed_receive():
            try:
                return await asyncio.wait_for(receive(), self.seconds)
            except TimeoutError:
                raise _SlowSender() from None

        async def tracked_send(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, timed_receive, tracked_send)
        except (_SlowSender, BaseExceptionGroup) as exc:
            if isinstance(exc, BaseExceptionGroup) and not exc.subgroup(_SlowSender):
                raise
            if not started:
                body = b'{"detail":"the request body did not arrive in time"}'
                await send({"type": "http.response.start", "status": 408, "headers": [
                    (b"content-type", b"application/json"), (b"connection", b"close"),
                    (b"x-content-type-options", b"nosniff")]})
                await send({"type": "http.response.body", "body": body})


_SECURITY_HEADERS = [(b"x-content-type-options", b"nosniff")]


class Guard:
    """ASGI middleware, before any body is read: the API key (every path but /health,
    the docs included; constant-time), then the content type of a POST; on every
    response the security headers (``nosniff``; ``no-store`` unless set). Pure ASGI,
    so it adds no per-request task as ``BaseHTTPMiddleware`` would."""

    def __init__(self, app, settings: ServiceSettings) -> None:
        self.app = app
        self.key = (None if settings.api_key is None
                    else settings.api_key.get_secret_value().encode())

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])
        names = [name.lower() for name, _ in scope["headers"]]
        for name in (b"content-type", b"x-api-key", b"content-length"):
            if names.count(name) > 1:
                return await _refuse(send, 400, b'{"detail":"the ' + name + b' header is '
                                     b'given more than once"}', [(b"connection", b"close")])
        if self.key is not None and scope["path"] != "/health":
            given = headers.get(b"x-api-key", b"")
            if not hmac.compare_digest(given, self.key):
                return await _refuse(send, 401, b'{"detail":"missing or wrong X-API-Key"}',
                                     [(b"www-authenticate", b"API-Key")])
        if scope["method"] == "POST":
            media = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
            if media != b"application/json":
                return await _refuse(send, 415, b'{"detail":"send the body as JSON '
                                     b'(Content-Type: application/json)"}', [])

        started = False

        async def secured(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                names = {k.lower() for k, _ in message.get("headers", [])}
                extra = list(_SECURITY_HEADERS)
                if b"cache-control" not in names:
                    extra.append((b"cache-control", b"no-store"))
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        try:
            await self.app(scope, receive, secured)
        except HTTPException as exc:
            # A refusal raised below the routes (the body limit's 413 on a chunked body):
            # answered with its own status, not logged as an internal error.
            logger.info("refused %s with %d", scope["path"], exc.status_code)
            if not started:
                detail = json.dumps({"detail": exc.detail}, default=str).encode()
                await _refuse(send, exc.status_code, detail, [])
        except Exception as exc:
            # Answered here, not re-raised: the server would log the exception's text,
            # which may quote the request. Only the type is logged.
            logger.error("internal error on %s: %s", scope["path"], type(exc).__name__)
            if not started:
                await _refuse(send, 500, b'{"detail":"internal error"}', [])


async def _refuse(send, code: int, body: bytes, headers: list) -> None:
    await send({"type": "http.response.start", "status": code, "headers": [
        (b"content-type", b"application/json"), *_SECURITY_HEADERS,
        (b"cache-control", b"no-store"), *headers]})
    await send({"type": "http.response.body", "body": body})


def create_app_from_env() -> FastAPI:
    """Factory for uvicorn (``eihpredict serve``): settings from ``EIHPREDICT_*``."""
    return create_app(ServiceSettings())

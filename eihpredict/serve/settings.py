"""Service settings, from the environment (``EIHPREDICT_...``) or keyword arguments.

Every limit is documented in docs/service.md (Settings).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["ServiceSettings"]


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EIHPREDICT_", extra="forbid")

    model_dir: Path = Field(Path("models/default"), description="Model directory to serve.")
    model_digest: str | None = Field(
        None, description="When set, the model directory's digest (SHA-256 of its "
        "checksums.sha256, printed at training) must be this value, or the service does "
        "not start.")
    api_key: SecretStr | None = Field(
        None, description="When set, every route but /health needs header X-API-Key."
    )
    max_participants: int = Field(1000, ge=1, description="Participants per request (422).")
    max_body_bytes: int = Field(2_000_000, ge=1024, description="Request body limit (413).")
    max_explain: int = Field(20, ge=0, description="Largest explain=K accepted.")
    log_participant_data: bool = Field(
        False, description="Log request bodies (health data: off unless needed)."
    )
    cors_origins: list[str] = Field(default_factory=list, description="CORS off when empty.")
    body_timeout_seconds: float = Field(
        10.0, gt=0, description="A request body stalled this long gets 408 (slow senders).")
    docs: bool | None = Field(
        None, description="Serve /docs, /redoc and /openapi.json (default: only when no API "
        "key is set; with a key they need it too, and /docs loads its scripts from a CDN).")

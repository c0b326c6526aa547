"""The prediction service: FastAPI app (``app.py``), routes, schemas, dependencies."""

from .app import create_app
from .settings import ServiceSettings

__all__ = ["ServiceSettings", "create_app"]

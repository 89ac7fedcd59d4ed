"""The app factory uvicorn's worker processes call (``HTTP_WORKERS`` > 1)."""

from __future__ import annotations

from fastapi import FastAPI

from services.gateway.app import create_app
from services.gateway.settings import GatewaySettings
from shared.runtime import tune_gc
from shared.telemetry import configure_logging

__all__ = ["build"]


def build() -> FastAPI:
    """One worker's app, from the same environment ``__main__`` read."""
    settings = GatewaySettings()
    configure_logging("gateway", settings.log_level, settings.log_format)
    app = create_app(settings)
    tune_gc()
    return app

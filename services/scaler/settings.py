"""Settings of the scaler service."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings

__all__ = ["ScalerSettings"]


class ScalerSettings(ServiceSettings):
    """Everything the scaler service reads from its environment (``SCALER_*`` too)."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    service_name: str = "scaler"
    metrics_port: int = 9413

"""Settings of the monitoring service."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings

__all__ = ["MonitoringSettings"]


class MonitoringSettings(ServiceSettings):
    """Everything the monitoring service reads from its environment (``MONITORING_*`` too)."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    service_name: str = "monitoring"
    metrics_port: int = 9412

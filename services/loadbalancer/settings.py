"""Settings of the loadbalancer service."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings

__all__ = ["LoadbalancerSettings"]


class LoadbalancerSettings(ServiceSettings):
    """Everything the loadbalancer service reads from its environment (``LOADBALANCER_*`` too)."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    service_name: str = "loadbalancer"
    metrics_port: int = 9414

"""Settings of the inventory service."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings

__all__ = ["InventorySettings"]


class InventorySettings(ServiceSettings):
    """Everything the inventory service reads from its environment (``INVENTORY_*`` too)."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    service_name: str = "inventory"
    metrics_port: int = 9411

"""Settings of the inventory service."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings

__all__ = ["InventorySettings"]


class InventorySettings(ServiceSettings):
    """Everything the inventory service reads from its environment.

    vCenter: ``VCENTER_HOST`` / ``VCENTER_PORT`` / ``VCENTER_PROTOCOL`` / ``VCENTER_USERNAME`` /
    ``VCENTER_PASSWORD`` (or ``VCENTER_PASSWORD_FILE``). TLS verification is on;
    ``VCENTER_INSECURE=true`` turns it off and is logged as a warning. The defaults point at
    the local lab's vcsim (plain HTTP on loopback, password from ``.lab/vcsim/password``).
    """

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    service_name: str = "inventory"
    metrics_port: int = 9411

    vcenter_host: str = "127.0.0.1"
    vcenter_port: int = Field(default=18989, ge=1, le=65535)
    vcenter_protocol: Literal["https", "http"] = "http"
    vcenter_username: str = "vmscale"
    vcenter_password: SecretStr = SecretStr("")
    vcenter_insecure: bool = False
    vcenter_ca_file: str | None = None
    vcenter_call_timeout_s: float = Field(default=30.0, gt=0)
    lab_password_file: Path = Path(".lab/vcsim/password")

    task_timeout_s: float = Field(default=300.0, gt=0)
    ip_timeout_s: float = Field(default=120.0, gt=0)
    ip_poll_s: float = Field(default=0.5, gt=0)
    watch_wait_s: int = Field(default=5, ge=1, le=60)
    retry_backoff_s: float = Field(default=2.0, gt=0)
    page_size: int = Field(default=1000, ge=1)
    query_page_size: int = Field(default=1000, ge=1, le=2000)

    @model_validator(mode="after")
    def _checks(self) -> InventorySettings:
        if self.vcenter_protocol == "http" and not self.vcenter_host.startswith("127."):
            raise ValueError("plain HTTP to vCenter is only allowed on loopback (the lab's vcsim)")
        return self

    @model_validator(mode="before")
    @classmethod
    def _lab_password(cls, values: Any) -> Any:
        if isinstance(values, dict) and not values.get("vcenter_password"):
            path = Path(str(values.get("lab_password_file") or ".lab/vcsim/password"))
            if path.is_file():
                values["vcenter_password"] = path.read_text(encoding="utf-8").strip()
        return values

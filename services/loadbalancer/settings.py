"""Settings of the loadbalancer service."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from shared.original_env import original
from shared.settings import ServiceSettings

__all__ = ["LoadbalancerSettings"]


def _device_url(text: str) -> str:
    """One F5 unit's base URL: ``127.0.0.5`` and ``bigip-a.example.com`` mean HTTPS on 443."""
    text = text.strip().rstrip("/")
    return text if "://" in text else f"https://{text}"


class LoadbalancerSettings(ServiceSettings):
    """Everything the loadbalancer service reads from its environment.

    ``lb_driver`` picks the load balancer: ``haproxy`` (runtime API at ``haproxy_runtime``, a
    unix socket path or ``tcp://127.0.0.1:<port>``; members persisted into ``haproxy_config``),
    ``f5`` (iControl REST on the HA pair ``f5_devices``, TLS verified unless ``f5_verify_tls`` is
    false, against ``f5_ca_bundle`` when given).
    Drains wait ``drain_timeout_s`` unless ``drain_timeouts`` names the pool or the command
    sets its own. ``reconcile_interval_s`` 0 turns the drift check off; ``reconcile_repair``
    lets it fix what it finds.
    """

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    service_name: str = "loadbalancer"
    metrics_port: int = 9414

    lb_driver: Literal["haproxy", "f5"] = "haproxy"
    haproxy_runtime: str = ".lab/haproxy/admin.sock"
    haproxy_config: Path | None = None
    haproxy_check: str = "check inter 2s rise 2 fall 3"
    f5_devices: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias=original("f5_devices", "F5_SERVERS")
    )
    """A JSON list or, as the original's ``F5_SERVERS``, a comma list; a bare host means
    ``https://<host>``. Every device is used (an HA pair), not only the first."""
    f5_username: str = Field(default="admin", validation_alias=original("f5_username", "F5_USER"))
    f5_password: SecretStr = SecretStr("")
    f5_partition: str = "Common"
    f5_verify_tls: bool = True
    f5_ca_bundle: Path | None = None
    f5_timeout_s: float = Field(default=10.0, gt=0)
    f5_retries: int = Field(default=3, ge=0)
    f5_backoff_s: float = Field(default=1.0, ge=0)

    health_poll_s: float = Field(default=1.0, gt=0)
    drain_poll_s: float = Field(default=2.0, gt=0)
    drain_timeout_s: float = Field(default=300.0, ge=0)
    drain_timeouts: dict[str, float] = Field(default_factory=dict)
    reconcile_interval_s: float = Field(default=60.0, ge=0)
    reconcile_repair: bool = False
    wait_claim_ttl_s: float = Field(default=30.0, gt=0)
    """How long a replica's claim on a health or drain wait lasts unrenewed (renewed every third of
    it); a dead replica's waits are resumed by another replica's pass (every half of it) after it."""

    @field_validator("f5_devices", mode="before")
    @classmethod
    def _device_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            value = json.loads(text) if text.startswith("[") else [part for part in text.split(",") if part.strip()]
        if isinstance(value, list):
            return [_device_url(str(item)) for item in value]
        return value

    @model_validator(mode="after")
    def _driver_settings(self) -> LoadbalancerSettings:
        if self.lb_driver == "f5" and not self.f5_devices:
            raise ValueError("lb_driver=f5 needs f5_devices (one URL per unit of the HA pair)")
        if self.lb_driver == "f5" and not self.f5_password.get_secret_value():
            raise ValueError("lb_driver=f5 needs f5_password (or F5_PASSWORD_FILE)")
        return self

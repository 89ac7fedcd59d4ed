"""Settings of the inventory service."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from shared.original_env import original
from shared.settings import ServiceSettings

__all__ = ["InventorySettings"]


def _url_parts(url: str) -> dict[str, Any]:
    """Host, port, protocol and credentials from a ``GOVC_URL`` in any of the original's forms.

    ``vc.example.com``, ``vc.example.com:8443``, ``https://vc.example.com/sdk``,
    ``user:password@vc.example.com`` (percent-encoded characters decoded). No scheme means
    HTTPS, as for govc. The error never repeats the URL: it may carry a password.
    """
    text = url.strip()
    if "://" not in text:
        text = f"https://{text}"
    try:
        split = urlsplit(text)
        port = split.port
    except ValueError as exc:
        raise ValueError("the vCenter URL (VCENTER_URL / GOVC_URL) is not a URL") from exc
    if split.scheme not in ("http", "https") or not split.hostname:
        raise ValueError("the vCenter URL (VCENTER_URL / GOVC_URL) needs http(s) and a host")
    parts: dict[str, Any] = {
        "vcenter_host": split.hostname,
        "vcenter_port": port or (443 if split.scheme == "https" else 80),
        "vcenter_protocol": split.scheme,
    }
    if split.username:
        parts["vcenter_username"] = unquote(split.username)
    if split.password:
        parts["vcenter_password"] = unquote(split.password)
    return parts


class InventorySettings(ServiceSettings):
    """Everything the inventory service reads from its environment.

    vCenter: ``VCENTER_HOST`` / ``VCENTER_PORT`` / ``VCENTER_PROTOCOL`` / ``VCENTER_USERNAME`` /
    ``VCENTER_PASSWORD`` (or ``VCENTER_PASSWORD_FILE``), or ``VCENTER_URL``; the original's
    ``GOVC_URL``, ``GOVC_USERNAME``, ``GOVC_PASSWORD`` and ``GOVC_INSECURE`` are read too
    (deprecated). TLS verification is on; ``VCENTER_INSECURE=true`` (or ``GOVC_INSECURE=1``)
    turns it off and is logged as a warning. The defaults point at
    the local lab's vcsim (plain HTTP on loopback, password from ``.lab/vcsim/password``).
    """

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    service_name: str = "inventory"
    metrics_port: int = 9411

    vcenter_url: SecretStr = Field(default=SecretStr(""), validation_alias=original("vcenter_url", "GOVC_URL"))
    """The original's form (``GOVC_URL``): ``host``, ``host:port``, ``https://host/sdk``,
    ``user:password@host``…; it fills the host, port, protocol and credentials below. A secret:
    it may carry the password."""
    vcenter_host: str = "127.0.0.1"
    vcenter_port: int = Field(default=18989, ge=1, le=65535)
    vcenter_protocol: Literal["https", "http"] = "http"
    vcenter_username: str = Field(default="vmscale", validation_alias=original("vcenter_username", "GOVC_USERNAME"))
    vcenter_password: SecretStr = Field(
        default=SecretStr(""), validation_alias=original("vcenter_password", "GOVC_PASSWORD")
    )
    vcenter_insecure: bool = Field(default=False, validation_alias=original("vcenter_insecure", "GOVC_INSECURE"))
    vcenter_ca_file: str | None = None
    vcenter_call_timeout_s: float = Field(default=30.0, gt=0)
    lab_password_file: Path = Path(".lab/vcsim/password")

    task_timeout_s: float = Field(default=300.0, gt=0)
    ip_timeout_s: float = Field(default=120.0, gt=0)
    ip_poll_s: float = Field(default=0.5, gt=0)
    watch_wait_s: int = Field(default=5, ge=1, le=60)
    watch_resync_s: float = Field(default=600.0, ge=1)
    """A full read of vCenter this often: the safety net behind the change feed (which carries
    every change, removals included, within one round trip)."""
    retry_backoff_s: float = Field(default=2.0, gt=0)
    operation_claim_ttl_s: float = Field(default=30.0, gt=0)
    """How long a replica's claim on an operation lasts unrenewed (renewed every third of it): a
    dead replica's operations are taken over by another replica's orphan pass (every half of
    it) once their claims expire. Longer than a database blip, short enough for failover."""
    page_size: int = Field(default=1000, ge=1)
    query_page_size: int = Field(default=1000, ge=1, le=2000)

    @model_validator(mode="after")
    def _checks(self) -> InventorySettings:
        if self.vcenter_protocol == "http" and not self.vcenter_host.startswith("127."):
            raise ValueError("plain HTTP to vCenter is only allowed on loopback (the lab's vcsim)")
        return self

    def derived_sources(self) -> dict[str, str]:
        """The host, port, protocol and credentials taken from the vCenter URL."""
        url = self.vcenter_url.get_secret_value()
        return {name: "from the vCenter URL (VCENTER_URL / GOVC_URL)" for name in _url_parts(url)} if url else {}

    @model_validator(mode="before")
    @classmethod
    def _lab_password(cls, values: Any) -> Any:
        if isinstance(values, dict) and not values.get("vcenter_password"):
            path = Path(str(values.get("lab_password_file") or ".lab/vcsim/password"))
            if path.is_file():
                values["vcenter_password"] = path.read_text(encoding="utf-8").strip()
        return values

    @model_validator(mode="before")
    @classmethod
    def _split_url(cls, values: Any) -> Any:
        # defined after _lab_password so that it runs before it (pydantic runs "before"
        # validators last-defined first): a password inside the URL beats the lab's file
        if not isinstance(values, dict) or not values.get("vcenter_url"):
            return values
        raw = values["vcenter_url"]
        parts = _url_parts(raw.get_secret_value() if isinstance(raw, SecretStr) else str(raw))
        for name, value in parts.items():
            given = values.get(name)
            if isinstance(given, SecretStr):
                given = given.get_secret_value()
            if given not in (None, "") and str(given) != str(value):
                raise ValueError(f"vCenter URL and {name.upper()} disagree; set only one")
            values[name] = value
        return values

"""Settings of the gateway."""

from __future__ import annotations

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings

__all__ = ["GatewaySettings"]

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})


class GatewaySettings(ServiceSettings):
    """Everything the gateway reads from its environment.

    Secrets (``webhook_token``, ``webhook_password``, ``initial_admin_password``) are
    ``SecretStr`` and may come from ``<NAME>_FILE``. Plain HTTP binds loopback only unless
    ``allow_plain_http_public`` is set; with ``tls_certfile``/``tls_keyfile`` the gateway serves
    HTTPS and sends HSTS.
    """

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    service_name: str = "gateway"
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8400, ge=1, le=65535)
    heartbeat_stale_s: float = Field(default=10.0, gt=0)
    http_workers: int = Field(default=1, ge=1, le=32)

    tls_certfile: str = ""
    tls_keyfile: str = ""
    allow_plain_http_public: bool = False

    webhook_token: SecretStr = SecretStr("")
    webhook_username: str = "alertmanager"
    webhook_password: SecretStr = SecretStr("")
    webhook_max_body_bytes: int = Field(default=1_048_576, ge=1024)
    webhook_episode_ttl_s: int = Field(default=7 * 24 * 3600, ge=60)
    webhook_rate_per_min: int = Field(default=6000, ge=1)

    initial_admin_username: str = "admin"
    initial_admin_password: SecretStr = SecretStr("")
    session_ttl_s: int = Field(default=8 * 3600, ge=60)
    cookie_secure: bool | None = None
    login_rate_per_min: int = Field(default=10, ge=1)
    scale_rate_per_min: int = Field(default=12, ge=1)
    cors_origins: tuple[str, ...] = ()

    backend_timeout_s: float = Field(default=5.0, gt=0)
    group_cache_ttl_s: float = Field(default=5.0, ge=0)

    @model_validator(mode="after")
    def _safe_binding(self) -> GatewaySettings:
        if "*" in self.cors_origins:
            raise ValueError("wildcard CORS is not allowed; list the UI origins")
        if bool(self.tls_certfile) != bool(self.tls_keyfile):
            raise ValueError("tls_certfile and tls_keyfile go together")
        if not self.tls_enabled and self.http_host not in LOOPBACK_HOSTS and not self.allow_plain_http_public:
            raise ValueError(
                f"plain HTTP on {self.http_host} needs allow_plain_http_public=true (or a TLS certificate and key)"
            )
        return self

    @property
    def tls_enabled(self) -> bool:
        """True when the gateway serves HTTPS."""
        return bool(self.tls_certfile and self.tls_keyfile)

    @property
    def secure_cookies(self) -> bool:
        """Whether session cookies carry ``Secure`` (default: when serving HTTPS)."""
        return self.tls_enabled if self.cookie_secure is None else self.cookie_secure

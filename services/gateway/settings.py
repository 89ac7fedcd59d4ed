"""Settings of the gateway."""

from __future__ import annotations

import ipaddress

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from shared.original_env import original
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
    http_port: int = Field(
        default=6010, ge=1, le=65535, validation_alias=original("http_port", "VM_AUTOSCALING_BACKEND_PORT", "PORT")
    )
    """The original's port (6010), so Alertmanager receivers and Jenkins callbacks keep working."""
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
    webhook_allowed_sources: tuple[str, ...] = ()
    """Addresses or CIDRs whose notifications to ``/api/webhook/autoscale/…`` need no
    credentials, for Alertmanagers still configured like the original's receivers (which send
    none). Empty, the default: credentials always. A weakened setting: logged and audited at
    start; never applies to any other route, nor to a request that carries credentials."""

    initial_admin_username: str = "admin"
    initial_admin_password: SecretStr = SecretStr("")
    session_ttl_s: int = Field(default=8 * 3600, ge=60)
    cookie_secure: bool | None = None
    login_rate_per_min: int = Field(default=10, ge=1)
    """Login attempts per minute from one source address (any user names)."""
    login_failures_per_user: int = Field(default=10, ge=1)
    """Failed logins of one user name (from any address) before it is locked for a back-off that
    doubles with each further lock, from ``login_lockout_s`` up to an hour; other names stay open."""
    login_lockout_s: int = Field(default=60, ge=1)
    login_total_per_min: int = Field(default=300, ge=1)
    """Login attempts per minute for the whole gateway (each costs an Argon2id hash)."""
    password_hash_memory_kib: int = Field(default=19 * 1024, ge=8, le=256 * 1024)
    password_hash_time_cost: int = Field(default=2, ge=1, le=16)
    password_hash_parallelism: int = Field(default=1, ge=1, le=4)
    """Argon2id cost of new password hashes; the defaults are OWASP's minimum (m=19 MiB, t=2,
    p=1). Raising them rehashes each password at its next login. Lower values are for tests only."""
    trusted_proxies: tuple[str, ...] = ()
    agent_allowed_cidrs: tuple[str, ...] = ()
    """Hosts outside inventory and the IP pools that agents may be installed on (CIDRs)."""
    """Addresses or CIDRs of reverse proxies whose ``X-Forwarded-For`` is believed; empty: none."""
    session_purge_interval_s: float = Field(default=300.0, gt=0)
    scale_rate_per_min: int = Field(default=12, ge=1)
    cors_origins: tuple[str, ...] = ()

    backend_timeout_s: float = Field(default=5.0, gt=0)
    group_cache_ttl_s: float = Field(default=5.0, ge=0)

    http_metrics: bool = True
    """Count and time every request by route (``vmscale_gateway_http_*``); off only to measure its cost."""
    access_log: bool = True
    """One log line per request: method, route template, status, duration, user (``access_log.py``)."""
    notify_channels: str = ""
    """Notification channels, a JSON list (``services.gateway.notify.model``; usually given as a
    file in ``NOTIFY_CHANNELS_FILE``). Each channel names its secret files; none is inline."""
    notify_pinned_after_s: float = Field(default=600.0, ge=0)
    """A group blocked at its max or min this long is notified as pinned."""
    notify_pool_low_free: int = Field(default=2, ge=0)
    """A scale-out leaving this many free addresses or fewer is notified as a low IP pool."""
    notify_delivery_retention_s: float = Field(default=30 * 86400.0, gt=0)
    """Notification delivery records older than this are purged (checked hourly)."""

    @model_validator(mode="after")
    def _safe_binding(self) -> GatewaySettings:
        if "*" in self.cors_origins:
            raise ValueError("wildcard CORS is not allowed; list the UI origins")
        for name in ("trusted_proxies", "agent_allowed_cidrs", "webhook_allowed_sources"):
            for cidr in getattr(self, name):
                try:
                    ipaddress.ip_network(cidr, strict=False)
                except ValueError as exc:
                    raise ValueError(f"{name}: {cidr!r} is not an address or CIDR") from exc
        if any(ipaddress.ip_network(c, strict=False).prefixlen == 0 for c in self.webhook_allowed_sources):
            raise ValueError("webhook_allowed_sources: a /0 lets everyone in; list the Alertmanager hosts")
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

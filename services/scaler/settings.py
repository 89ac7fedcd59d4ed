"""Settings of the scaler service."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from shared.original_env import original
from shared.settings import ServiceSettings

__all__ = ["ScalerSettings"]

WILDCARD_HOSTS = frozenset({"", "0.0.0.0", "::"})  # a wildcard bind answers on loopback too


class ScalerSettings(ServiceSettings):
    """Everything the scaler service reads from its environment.

    Jenkins (for post-provision / pre-termination hooks) prefers an API token (no CSRF crumb);
    a password works too (crumb + session cookie). Either may come from ``*_FILE``.
    """

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    service_name: str = "scaler"
    metrics_port: int = 9413

    prometheus_url: str = "http://127.0.0.1:9090"
    prometheus_rate_window: str = Field(default="5m", pattern=r"^\d+[smh]$")
    webhook_base_url: str = Field(default="", validation_alias=original("webhook_base_url", "BACKEND_API_URL"))
    """Where Alertmanager reaches the gateway's webhook; empty: derived from the gateway's own
    address below (``resolved_webhook_base_url``)."""
    http_host: str = "127.0.0.1"
    http_port: int = Field(
        default=6010, ge=1, le=65535, validation_alias=original("http_port", "VM_AUTOSCALING_BACKEND_PORT", "PORT")
    )
    tls_certfile: str = ""
    """The gateway's address, read from the same variables as the gateway reads (one environment
    for every service under ``vmscale run all``); used only to derive the webhook URL."""
    replica_id: str = ""

    lease_ttl_s: float = Field(default=15.0, gt=0)
    alert_workers: int = Field(default=1, ge=1, le=64)
    """How many ``alert.fired`` messages a replica decides at once; each holds a database
    connection while it decides. Safe at any value (group leases, pool row locks), but measured
    with ``python -m bench.scaler`` on 2 cores with 100 groups sharing one IP pool, 4 made a
    burst slower than 1 (decisions on one pool serialise on its lock; the host is CPU-bound).
    Raise it for many IP pools on more cores, and measure."""
    tick_interval_s: float = Field(default=1.0, gt=0)
    orphan_sweep_s: float = Field(default=60.0, gt=0)
    """How often VMs carrying our tag are compared with the instance table (orphans reported)."""
    capacity_metrics_interval_s: float = Field(default=5.0, gt=0)
    """How often the group and IP pool gauges of ``/metrics`` are read from the database."""
    evaluation_interval_s: float = Field(default=15.0, gt=0)
    """How often every enabled group's level is evaluated (docs/architecture.md §3a): convergence and the step
    policy's rules read from Prometheus; also the step of those range queries. An alert brings
    a group's evaluation forward; nothing waits for one."""
    lost_grace_s: float = Field(default=60.0, ge=0)
    """An in-service VM missing from vCenter (or powered off) this long is lost and replaced."""
    unhealthy_grace_s: float = Field(default=300.0, ge=0)
    """A powered-on VM whose exporter Prometheus fails to scrape this long (while the group's
    other VMs answer) is lost and replaced."""
    silence_renew_s: float = Field(default=600.0, gt=0)
    """The scale-in silence at min is renewed this often (keep it below the monitoring service's
    ``SILENCE_DURATION_S``)."""

    step_max_attempts: int = Field(default=3, ge=1)
    step_backoff_s: float = Field(default=2.0, ge=0)
    compensation_attempts: int = Field(default=8, ge=1)
    vm_timeout_s: float = Field(default=600.0, gt=0)
    power_on_timeout_s: float = Field(default=600.0, gt=0)
    monitoring_timeout_s: float = Field(default=180.0, gt=0)
    pool_timeout_s: float = Field(default=180.0, gt=0)
    health_timeout_s: float = Field(default=300.0, gt=0)
    health_interval_s: float = Field(default=1.0, gt=0)
    hook_timeout_s: float = Field(default=900.0, gt=0)
    failure_backoff_s: float = Field(default=60.0, ge=0)
    """After an activity rolled back or failed (its cooldown given back), its direction waits
    this long before trying again; 0 disables the back-off."""

    jenkins_url: str = ""
    jenkins_user: str = Field(default="", validation_alias=original("jenkins_user", "JENKINS_WEB_USER"))
    jenkins_token: SecretStr | None = Field(
        default=None, validation_alias=original("jenkins_token", "JENKINS_API_TOKEN")
    )
    jenkins_password: SecretStr | None = Field(
        default=None, validation_alias=original("jenkins_password", "JENKINS_WEB_PASSWORD")
    )
    jenkins_poll_s: float = Field(default=2.0, gt=0)
    hook_allowed_hosts: str = "127.0.0.1,localhost"
    hook_secrets_dir: str = ""
    """Where ``file:NAME`` hook secret references are read from (one secret per file); empty:
    only ``env:NAME`` references (``VMSCALE_HOOK_SECRET_NAME``) resolve."""

    ping_check_port: int = Field(default=22, ge=1, le=65535)
    """IP pools with ``ping_check``: an address that accepts a TCP connection here is in use."""
    ping_check_timeout_s: float = Field(default=1.0, gt=0)

    def resolved_webhook_base_url(self) -> str:
        """``webhook_base_url``, or the gateway's address (a wildcard bind answers on loopback)."""
        if self.webhook_base_url:
            return self.webhook_base_url.rstrip("/")
        host = self.http_host if self.http_host not in WILDCARD_HOSTS else "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        scheme = "https" if self.tls_certfile else "http"
        return f"{scheme}://{host}:{self.http_port}"

    def derived_sources(self) -> dict[str, str]:
        """The webhook URL, when derived from the gateway's address."""
        if self.webhook_base_url:
            return {}
        return {"webhook_base_url": f"derived from the gateway's address: {self.resolved_webhook_base_url()}"}

"""Settings of the monitoring service."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from shared.original_env import original
from shared.settings import ServiceSettings

__all__ = ["MonitoringSettings"]


class MonitoringSettings(ServiceSettings):
    """Everything the monitoring service reads from its environment.

    Where Prometheus' and Alertmanager's files live (``config_location``):

    * ``local``: ``file_sd_dir``, ``rules_dir`` and ``alertmanager_config`` are paths on this host;
    * ``sftp``: the same paths on the PLG host ``plg_host``, reached over SFTP as ``plg_user``
      with ``plg_key_file`` (files written to a temp name and renamed there).

    With ``targets_mode = "http_sd"`` the job files are kept in ``file_sd_dir`` on this host and
    served to Prometheus' ``http_sd_configs`` on ``http_sd_host:http_sd_port`` behind
    ``http_sd_token``.

    Agent binaries come from ``<tool>_artifact`` (a local file) or are downloaded by vmscale
    from ``<tool>_url``; ``<tool>_sha256`` is the checksum the vendor publishes for that file
    (required for a URL), checked before anything is unpacked or copied to a VM.
    """

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    service_name: str = "monitoring"
    metrics_port: int = 9412

    prometheus_url: str = "http://127.0.0.1:9090"
    alertmanager_url: str = "http://127.0.0.1:9093"
    http_timeout_s: float = Field(default=10.0, gt=0)

    config_location: Literal["local", "sftp"] = "local"
    file_sd_dir: Path = Path("/etc/prometheus/file_sd")
    rules_dir: Path = Path("/etc/prometheus/rules")
    alertmanager_config: Path = Path("/etc/alertmanager/alertmanager.yml")
    backups_kept: int = Field(default=5, ge=0)
    file_lease_ttl_s: float = Field(default=30.0, gt=0)
    """The database lease each replica holds around a read-modify-write of a shared config file
    (renewed every third of it; a dead holder's lease frees after it)."""
    file_lease_wait_s: float = Field(default=60.0, gt=0)
    """How long a write waits for another replica's file lease before a retryable error."""
    plg_host: str = Field(default="", validation_alias=original("plg_host", "PLG_STACK_SERVER"))
    plg_port: int = Field(default=22, ge=1, le=65535)
    plg_user: str = Field(default="", validation_alias=original("plg_user", "PLG_STACK_USER"))
    plg_key_file: Path | None = Field(default=None, validation_alias=original("plg_key_file", "PLG_STACK_SSH_KEY"))

    targets_mode: Literal["file_sd", "http_sd"] = "file_sd"
    http_sd_host: str = "127.0.0.1"
    http_sd_port: int = Field(default=0, ge=0, le=65535)
    http_sd_token: SecretStr | None = None

    promtool: str = "/usr/bin/promtool"
    amtool: str = "/usr/bin/amtool"
    rule_interval: str = "15s"
    rate_window: str = "5m"
    webhook_credentials_file: str = "/etc/alertmanager/vmscale-webhook-token"
    webhook_ca_file: str = ""
    receiver_name_template: str = "jenkins-webhook-{service}-{direction}"
    route_group_wait: str = "10s"
    route_group_interval: str = "10s"
    silence_duration_s: int = Field(default=1800, gt=0)

    grafana_url: str = ""
    grafana_token: SecretStr | None = None
    grafana_user: str = ""
    grafana_password: SecretStr | None = None
    """Basic auth, as the original used it, when no ``grafana_token`` is set (a service-account
    token is preferred: it can be limited to one folder)."""
    grafana_folder_uid: str = ""
    grafana_datasource_uid: str = Field(
        default="prometheus", validation_alias=original("grafana_datasource_uid", "GRAFANA_PROMETHEUS_DATASOURCE")
    )

    ssh_user: str = Field(default="vmscale", validation_alias=original("ssh_user", "DEFAULT_SSH_USER"))
    """The login on the VMs: a non-root user with passwordless sudo by default (``root`` still
    works when set explicitly, and then runs without sudo)."""
    ssh_key_file: Path | None = Field(default=None, validation_alias=original("ssh_key_file", "DEFAULT_SSH_KEY"))
    ssh_port: int = Field(default=22, ge=1, le=65535)
    ssh_known_hosts: Path = Path(".state/monitoring/known_hosts")
    ssh_strict_host_keys: bool = False
    ssh_connect_timeout_s: float = Field(default=10.0, gt=0)
    ssh_command_timeout_s: float = Field(default=300.0, gt=0)
    ssh_sudo: bool | None = None
    """Run the agent commands on the VMs through ``sudo -n``; unset = sudo unless ``ssh_user`` is root."""
    agent_prefix: Path = Path("/")
    agent_listen_host: str = ""
    """Address Node Exporter and the JMX exporter bind to on the VM ("" = all addresses)."""
    node_exporter_artifact: Path | None = None
    node_exporter_url: str = ""
    node_exporter_sha256: str = ""
    node_exporter_port: int = Field(default=9100, ge=1, le=65535)
    install_concurrency: int = Field(default=8, ge=1)
    loki_url: str = "http://127.0.0.1:3100/loki/api/v1/push"
    promtail_artifact: Path | None = None
    promtail_url: str = ""
    promtail_sha256: str = ""
    promtail_port: int = Field(default=9080, ge=1, le=65535)
    promtail_sensitive_logs: bool = False
    """Also ship auth.log/secure and shell history to Loki (off: they hold what people typed)."""
    jmx_exporter_port: int = Field(default=9404, ge=1, le=65535)
    """Where the JMX exporter serves ``/metrics`` (its own Prometheus job scrapes it)."""
    jmx_exporter_artifact: Path | None = None
    jmx_exporter_url: str = ""
    jmx_exporter_sha256: str = ""
    jmx_target_port: int = Field(
        default=9999, ge=1, le=65535, validation_alias=original("jmx_target_port", "JAVA_APP_JMX_PORT")
    )
    """The Java service's remote JMX port the exporter reads (the original's JAVA_APP_JMX_PORT)."""
    java: str = "/usr/bin/java"
    artifact_max_bytes: int = Field(default=256 * 1024 * 1024, gt=0)
    """Upper bound on a downloaded artifact and on the binary unpacked from it."""
    artifact_timeout_s: float = Field(default=300.0, gt=0)

    register_poll_interval_s: float = Field(default=1.0, gt=0)

    @property
    def ssh_uses_sudo(self) -> bool:
        """Whether agent commands run through sudo: ``ssh_sudo`` when set, else unless root logs in."""
        return self.ssh_sudo if self.ssh_sudo is not None else self.ssh_user != "root"

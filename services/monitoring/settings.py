"""Settings of the monitoring service."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

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
    plg_host: str = ""
    plg_port: int = Field(default=22, ge=1, le=65535)
    plg_user: str = ""
    plg_key_file: Path | None = None

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
    grafana_folder_uid: str = ""
    grafana_datasource_uid: str = "prometheus"

    ssh_user: str = "root"
    ssh_key_file: Path | None = None
    ssh_port: int = Field(default=22, ge=1, le=65535)
    ssh_known_hosts: Path = Path(".state/monitoring/known_hosts")
    ssh_strict_host_keys: bool = False
    ssh_connect_timeout_s: float = Field(default=10.0, gt=0)
    ssh_command_timeout_s: float = Field(default=300.0, gt=0)
    ssh_sudo: bool = False
    agent_prefix: Path = Path("/")
    node_exporter_artifact: Path | None = None
    node_exporter_url: str = ""
    node_exporter_sha256: str = ""
    node_exporter_port: int = Field(default=9100, ge=1, le=65535)
    install_concurrency: int = Field(default=8, ge=1)
    loki_url: str = "http://127.0.0.1:3100/loki/api/v1/push"
    jmx_exporter_port: int = Field(default=9404, ge=1, le=65535)

    register_poll_interval_s: float = Field(default=1.0, gt=0)

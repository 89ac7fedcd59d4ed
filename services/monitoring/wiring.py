"""Builds the monitoring service's parts from settings (used by ``app.py`` and the tests)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import httpx

from services.monitoring.adapters.alertmanager import AlertmanagerHttp
from services.monitoring.adapters.checkers import ToolChecker
from services.monitoring.adapters.download import HttpDownloader
from services.monitoring.adapters.files import LocalDirStore, SftpDirStore
from services.monitoring.adapters.flock import LOCKS_DIR, FlockLocks
from services.monitoring.adapters.grafana import GrafanaHttp
from services.monitoring.adapters.prometheus import PrometheusHttp
from services.monitoring.adapters.ssh import AsyncsshConnector
from services.monitoring.alerting import Alerting
from services.monitoring.artifacts import Artifacts, ArtifactSource
from services.monitoring.domain import RouteOptions, RuleOptions
from services.monitoring.locks import FencedStore, FileLocks, LeaseLocks, ProcessLocks
from services.monitoring.ports import ConfigStore, Dashboards
from services.monitoring.registry import TargetRegistry
from services.monitoring.settings import MonitoringSettings
from shared.clock import Clock, SystemClock
from shared.errors import ConfigurationError
from shared.singleton import Leases

__all__ = ["Monitoring", "artifact_sources", "build_artifacts", "build_monitoring", "vm_connector"]


@dataclass
class Monitoring:
    """Everything the handlers use, built once per process."""

    settings: MonitoringSettings
    registry: TargetRegistry
    alerting: Alerting
    prometheus: PrometheusHttp
    alertmanager: AlertmanagerHttp
    dashboards: Dashboards | None
    vms: AsyncsshConnector
    stores: list[ConfigStore]


def vm_connector(settings: MonitoringSettings) -> AsyncsshConnector:
    """The SSH connector to VMs (agents)."""
    return AsyncsshConnector(
        user=settings.ssh_user,
        key_file=settings.ssh_key_file,
        known_hosts=settings.ssh_known_hosts,
        strict=settings.ssh_strict_host_keys,
        port=settings.ssh_port,
        connect_timeout=settings.ssh_connect_timeout_s,
        command_timeout=settings.ssh_command_timeout_s,
        sudo=settings.ssh_uses_sudo,
    )


def artifact_sources(settings: MonitoringSettings) -> dict[str, ArtifactSource]:
    """Each tool's artifact path or URL and checksum, and the binary's name in upstream archives."""
    s = settings
    return {
        "node_exporter": ArtifactSource(
            "node_exporter", s.node_exporter_artifact, s.node_exporter_url, s.node_exporter_sha256, ("node_exporter",)
        ),
        "promtail": ArtifactSource(
            "promtail", s.promtail_artifact, s.promtail_url, s.promtail_sha256, ("promtail-linux-amd64", "promtail")
        ),
        "jmx_exporter": ArtifactSource(
            "jmx_exporter", s.jmx_exporter_artifact, s.jmx_exporter_url, s.jmx_exporter_sha256
        ),
    }


def build_artifacts(settings: MonitoringSettings, client: httpx.AsyncClient) -> Artifacts:
    """Artifacts from the settings; downloads go through ``client`` and are cached in ``state_dir``."""
    downloader = HttpDownloader(client, max_bytes=settings.artifact_max_bytes, timeout_s=settings.artifact_timeout_s)
    return Artifacts(
        artifact_sources(settings),
        downloader,
        settings.state_dir / "artifacts",
        max_bytes=settings.artifact_max_bytes,
    )


def _stores(settings: MonitoringSettings) -> tuple[ConfigStore, ConfigStore, ConfigStore]:
    """file_sd, rules and Alertmanager config directories, local or on the PLG host."""
    keep = settings.backups_kept
    am_dir = settings.alertmanager_config.parent
    if settings.config_location == "local":
        return (
            LocalDirStore(settings.file_sd_dir),
            LocalDirStore(settings.rules_dir, keep),
            LocalDirStore(am_dir, keep),
        )
    if not settings.plg_host or not settings.plg_user:
        raise ConfigurationError("config_location=sftp needs plg_host and plg_user")
    plg = AsyncsshConnector(
        user=settings.plg_user,
        key_file=settings.plg_key_file,
        known_hosts=settings.ssh_known_hosts,
        strict=settings.ssh_strict_host_keys,
        port=settings.plg_port,
        connect_timeout=settings.ssh_connect_timeout_s,
    )
    file_sd: ConfigStore = (
        LocalDirStore(settings.file_sd_dir)
        if settings.targets_mode == "http_sd"
        else SftpDirStore(plg, settings.plg_host, str(settings.file_sd_dir))
    )
    return (
        file_sd,
        SftpDirStore(plg, settings.plg_host, str(settings.rules_dir), keep),
        SftpDirStore(plg, settings.plg_host, str(am_dir), keep),
    )


def _where(settings: MonitoringSettings, directory: Path, store: ConfigStore) -> str:
    """Where a config directory lives, the same on every replica configured alike."""
    if isinstance(store, SftpDirStore):
        return f"sftp://{settings.plg_host}:{settings.plg_port}{directory}"
    return f"local:{directory}"


def build_monitoring(
    settings: MonitoringSettings,
    client: httpx.AsyncClient,
    clock: Clock | None = None,
    *,
    leases: Leases | None = None,
    owner: str = "",
) -> Monitoring:
    """Wire adapters and use cases; nothing connects here.

    With ``leases`` (the service's database, bound once it has started) every read-modify-write
    of a config file also takes a lease as ``owner`` (``locks.LeaseLocks``): replicas sharing the
    files anywhere, over SFTP included, write one at a time, each write fenced. Without it only
    the host's processes (``flock`` on local directories) and this process's tasks are serialised.
    """
    clock = clock or SystemClock()
    file_sd, rules, am_files = _stores(settings)
    registry_locks: FileLocks = (
        FlockLocks(settings.file_sd_dir / LOCKS_DIR) if isinstance(file_sd, LocalDirStore) else ProcessLocks()
    )
    alert_locks: FileLocks = (
        FlockLocks(settings.rules_dir / LOCKS_DIR) if settings.config_location == "local" else ProcessLocks()
    )
    sd_store, rules_store, am_store = file_sd, rules, am_files
    if leases is not None:
        timing = {"ttl_s": settings.file_lease_ttl_s, "wait_s": settings.file_lease_wait_s}
        sd_where = _where(settings, settings.file_sd_dir, file_sd)
        registry_locks = LeaseLocks(registry_locks, leases, owner, sd_where, **timing)
        alert_locks = LeaseLocks(alert_locks, leases, owner, _where(settings, settings.rules_dir, rules), **timing)
        sd_store, rules_store, am_store = FencedStore(file_sd), FencedStore(rules), FencedStore(am_files)
    prometheus = PrometheusHttp(client, settings.prometheus_url)
    alertmanager = AlertmanagerHttp(client, settings.alertmanager_url)
    alerting = Alerting(
        rules=rules_store,
        am_config=am_store,
        am_config_name=Path(settings.alertmanager_config).name,
        prometheus=prometheus,
        alertmanager=alertmanager,
        checker=ToolChecker(settings.promtool, settings.amtool),
        rule_options=RuleOptions(interval=settings.rule_interval, rate_window=settings.rate_window),
        route_options=RouteOptions(
            receiver_template=settings.receiver_name_template,
            credentials_file=settings.webhook_credentials_file,
            group_wait=settings.route_group_wait,
            group_interval=settings.route_group_interval,
            ca_file=settings.webhook_ca_file,
        ),
        clock=clock,
        silence_duration_s=settings.silence_duration_s,
        locks=alert_locks,
    )
    dashboards: Dashboards | None = None
    if settings.grafana_url:
        if settings.grafana_token is not None:
            dashboards = GrafanaHttp(client, settings.grafana_url, settings.grafana_token.get_secret_value())
        elif settings.grafana_user and settings.grafana_password is not None:
            basic = (settings.grafana_user, settings.grafana_password.get_secret_value())
            dashboards = GrafanaHttp(client, settings.grafana_url, "", basic=basic)
        else:
            raise ConfigurationError("grafana_url is set but neither grafana_token nor grafana_user/password")
    return Monitoring(
        settings=settings,
        registry=TargetRegistry(sd_store, prometheus, registry_locks),
        alerting=alerting,
        prometheus=prometheus,
        alertmanager=alertmanager,
        dashboards=dashboards,
        vms=vm_connector(settings),
        stores=[file_sd, rules, am_files],
    )

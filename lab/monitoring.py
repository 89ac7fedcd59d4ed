"""Lab parts of the monitoring stack: Prometheus and Alertmanager (Debian), plus the paths
vmscale's monitoring service needs to manage them.

Prometheus runs with ``--web.enable-lifecycle``, scrapes and evaluates every second, reads
targets from a ``file_sd`` directory (one JSON file per job, each target group carrying its
``job`` label) and rule files from a rules directory; vmscale owns both directories.
Alertmanager runs without clustering; vmscale adds its own routes and receivers to its config.
The webhook bearer token Alertmanager sends to the gateway lives in a generated file
(``credentials_file``), never in the configuration or a URL.

vmscale's own alert rules (``shared.observability``) are loaded from ``self_rules/`` — their
``for:`` compressed to lab speed — and vmscale's services are scraped as the job
``vmscale-self`` from ``self_sd/vmscale.json``, which ``vmscale run all`` writes
(``SCRAPE_TARGETS_FILE``).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

import yaml

from lab.config import LabConfig
from lab.runner import Part
from shared.observability import RULES_FILE, SCRAPE_JOB

__all__ = [
    "MonitoringPaths",
    "alertmanager_part",
    "initial_alertmanager_config",
    "lab_speed_rules",
    "monitoring_paths",
    "parts",
    "prometheus_part",
    "service_env",
]

PROMETHEUS = "/usr/bin/prometheus"
ALERTMANAGER = "/usr/bin/prometheus-alertmanager"


@dataclass(frozen=True)
class MonitoringPaths:
    """Where the lab's monitoring stack keeps what vmscale manages."""

    prometheus_dir: Path
    alertmanager_dir: Path

    @property
    def file_sd_dir(self) -> Path:
        """One ``<job>.json`` per job, watched by Prometheus (no reload needed)."""
        return self.prometheus_dir / "file_sd"

    @property
    def rules_dir(self) -> Path:
        """Per-group rule files, loaded on ``POST /-/reload``."""
        return self.prometheus_dir / "rules"

    @property
    def self_rules_dir(self) -> Path:
        """vmscale's own alert rules (a lab-speed copy of the shipped file)."""
        return self.prometheus_dir / "self_rules"

    @property
    def self_targets_file(self) -> Path:
        """vmscale's services as scrape targets (``file_sd``), written by ``vmscale run all``."""
        return self.prometheus_dir / "self_sd" / "vmscale.json"

    @property
    def alertmanager_config(self) -> Path:
        """Alertmanager's configuration file."""
        return self.alertmanager_dir / "alertmanager.yml"

    @property
    def webhook_credentials_file(self) -> Path:
        """The bearer token Alertmanager presents to the gateway webhook."""
        return self.alertmanager_dir / "webhook-token"


def monitoring_paths(
    config: LabConfig, *, prometheus: str = "prometheus", alertmanager: str = "alertmanager"
) -> MonitoringPaths:
    """The paths of the parts named ``prometheus`` / ``alertmanager`` under the lab directory."""
    lab_dir = config.lab_dir.resolve()
    return MonitoringPaths(lab_dir / prometheus, lab_dir / alertmanager)


def _write_if_missing(path: Path, text: str, mode: int = 0o644) -> None:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        path.chmod(mode)


def lab_speed_rules(text: str, hold: str = "2s") -> str:
    """The shipped rule file with every ``for:`` set to ``hold``, so its alerts fire in seconds."""
    document = yaml.safe_load(text)
    for group in document["groups"]:
        for rule in group["rules"]:
            if "for" in rule:
                rule["for"] = hold
    return yaml.safe_dump(document, sort_keys=False)


def prometheus_part(
    config: LabConfig,
    *,
    name: str = "prometheus",
    port: int | None = None,
    alertmanager_port: int | None = None,
    interval: str = "1s",
) -> Part:
    """Prometheus with lifecycle API, file_sd directory and rules directory under its part dir."""
    host = config.host
    port = port or config.prometheus_port
    am_port = alertmanager_port or config.alertmanager_port

    def prepare(directory: Path) -> None:
        (directory / "file_sd").mkdir(parents=True, exist_ok=True)
        (directory / "rules").mkdir(parents=True, exist_ok=True)
        (directory / "self_sd").mkdir(parents=True, exist_ok=True)
        (directory / "self_rules").mkdir(parents=True, exist_ok=True)
        (directory / "self_rules" / "vmscale-alerts.yml").write_text(
            lab_speed_rules(RULES_FILE.read_text(encoding="utf-8")), encoding="utf-8"
        )
        document = {
            "global": {
                "scrape_interval": interval,
                "scrape_timeout": interval,
                "evaluation_interval": interval,
                "external_labels": {"cluster": "lab", "environment": "lab"},
            },
            "alerting": {"alertmanagers": [{"static_configs": [{"targets": [f"{host}:{am_port}"]}]}]},
            "rule_files": [str(directory / "rules" / "*.yml"), str(directory / "self_rules" / "*.yml")],
            "scrape_configs": [
                {"job_name": "prometheus", "static_configs": [{"targets": [f"{host}:{port}"]}]},
                {"job_name": "alertmanager", "static_configs": [{"targets": [f"{host}:{am_port}"]}]},
                {
                    # One scrape config for every vmscale job: each file_sd target group sets
                    # its own ``job`` label, so adding a job needs no reload either.
                    "job_name": "vmscale",
                    "file_sd_configs": [{"files": [str(directory / "file_sd" / "*.json")], "refresh_interval": "5s"}],
                },
                {
                    # vmscale's own services (their /metrics), as ``vmscale run all`` lists them
                    "job_name": SCRAPE_JOB,
                    "file_sd_configs": [{"files": [str(directory / "self_sd" / "*.json")], "refresh_interval": "5s"}],
                },
            ],
        }
        (directory / "prometheus.yml").write_text(yaml.safe_dump(document, sort_keys=False))

    def command(directory: Path) -> list[str]:
        return [
            PROMETHEUS,
            f"--config.file={directory / 'prometheus.yml'}",
            f"--storage.tsdb.path={directory / 'data'}",
            "--storage.tsdb.retention.time=1d",
            f"--web.listen-address={host}:{port}",
            "--web.enable-lifecycle",
        ]

    return Part(
        name=name,
        command=command,
        host=host,
        prepare=prepare,
        ready_url=f"http://{host}:{port}/-/ready",
        start_timeout_s=30.0,
        stop_timeout_s=10.0,
    )


def initial_alertmanager_config(group_wait: str = "1s", group_interval: str = "1s") -> str:
    """The operator's starting config: a root route to a do-nothing receiver."""
    document = {
        "route": {
            "receiver": "default",
            "group_by": ["alertname", "cluster", "service"],
            "group_wait": group_wait,
            "group_interval": group_interval,
            "repeat_interval": "5m",
        },
        "receivers": [{"name": "default"}],
    }
    return yaml.safe_dump(document, sort_keys=False)


def alertmanager_part(config: LabConfig, *, name: str = "alertmanager", port: int | None = None) -> Part:
    """Alertmanager without clustering; its config is created once and then managed."""
    host = config.host
    port = port or config.alertmanager_port

    def prepare(directory: Path) -> None:
        (directory / "data").mkdir(parents=True, exist_ok=True)
        _write_if_missing(directory / "alertmanager.yml", initial_alertmanager_config())
        _write_if_missing(directory / "webhook-token", secrets.token_urlsafe(32) + "\n", 0o600)

    def command(directory: Path) -> list[str]:
        return [
            ALERTMANAGER,
            f"--config.file={directory / 'alertmanager.yml'}",
            f"--storage.path={directory / 'data'}",
            f"--web.listen-address={host}:{port}",
            "--cluster.listen-address=",
        ]

    return Part(
        name=name,
        command=command,
        host=host,
        prepare=prepare,
        ready_url=f"http://{host}:{port}/-/ready",
        start_timeout_s=30.0,
    )


def parts(config: LabConfig) -> list[Part]:
    """The monitoring stack of the lab, in start order."""
    from lab.grafana_sim import grafana_part
    from lab.sshd import sshd_part

    return [
        alertmanager_part(config),
        prometheus_part(config),
        sshd_part(config),
        grafana_part(config),
    ]


def service_env(config: LabConfig) -> dict[str, str]:
    """Environment for the monitoring service against this lab (compressed timings, loopback).

    The e2e runner passes it to ``python -m services.monitoring``; every path is the lab's.
    """
    from lab.grafana_sim import grafana_paths
    from lab.sshd import sshd_paths

    paths = monitoring_paths(config)
    sshd = sshd_paths(config)
    grafana = grafana_paths(config)
    host = config.host
    return {
        "PROMETHEUS_URL": f"http://{host}:{config.prometheus_port}",
        "ALERTMANAGER_URL": f"http://{host}:{config.alertmanager_port}",
        "FILE_SD_DIR": str(paths.file_sd_dir),
        "RULES_DIR": str(paths.rules_dir),
        "ALERTMANAGER_CONFIG": str(paths.alertmanager_config),
        "WEBHOOK_CREDENTIALS_FILE": str(paths.webhook_credentials_file),
        "RULE_INTERVAL": "1s",
        "RATE_WINDOW": "10s",
        "ROUTE_GROUP_WAIT": "1s",
        "ROUTE_GROUP_INTERVAL": "1s",
        "GRAFANA_URL": f"http://{host}:{config.grafana_port}",
        "GRAFANA_TOKEN_FILE": str(grafana.token_file),
        "SSH_USER": sshd.sudo_user,
        "SSH_KEY_FILE": str(sshd.user_key),
        "SSH_PORT": str(config.sshd_port),
        "SSH_KNOWN_HOSTS": str(config.lab_dir.resolve() / "monitoring" / "known_hosts"),
        "AGENT_PREFIX": str(config.lab_dir.resolve() / "vm-root"),
        "NODE_EXPORTER_ARTIFACT": "/usr/bin/prometheus-node-exporter",
        "REGISTER_POLL_INTERVAL_S": "0.5",
        "SCRAPE_TARGETS_FILE": str(paths.self_targets_file),
    }

"""Helpers for the monitoring tests: the session's lab stack and per-test agent fleets."""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass
from pathlib import Path

from lab.agent import agent_part
from lab.config import LabConfig
from lab.grafana_sim import GrafanaPaths
from lab.monitoring import MonitoringPaths
from lab.runner import Lab, Part
from lab.sshd import SshdPaths
from services.monitoring.settings import MonitoringSettings

__all__ = ["AgentFleet", "MonitoringLab", "lab_settings", "next_vm_address"]


@dataclass(frozen=True)
class MonitoringLab:
    """Where the session's monitoring stack listens and keeps its files."""

    config: LabConfig
    lab: Lab

    @property
    def prometheus_url(self) -> str:
        return f"http://{self.config.host}:{self.config.prometheus_port}"

    @property
    def alertmanager_url(self) -> str:
        return f"http://{self.config.host}:{self.config.alertmanager_port}"

    @property
    def grafana_url(self) -> str:
        return f"http://{self.config.host}:{self.config.grafana_port}"

    @property
    def paths(self) -> MonitoringPaths:
        root = self.config.lab_dir
        return MonitoringPaths(root / "prometheus", root / "alertmanager")

    @property
    def sshd(self) -> SshdPaths:
        return SshdPaths(self.config.lab_dir / "sshd")

    @property
    def grafana(self) -> GrafanaPaths:
        return GrafanaPaths(self.config.lab_dir / "grafana")


_octet = random.randint(100, 199)
_hosts = itertools.count(10)


def next_vm_address() -> str:
    """A fresh 127.0.x.y for one test VM (outside the lab's 127.0.10.0/24 demo range)."""
    return f"127.0.{_octet}.{next(_hosts)}"


@dataclass
class AgentFleet:
    """Starts lab VM agents for one test and stops them afterwards."""

    lab_dir: Path
    started: list[tuple[Lab, Part]]

    def start(self, name: str, *, cpu: float = 5.0, memory: float = 20.0) -> str:
        """Start an agent for VM ``name`` on a fresh address; returns the address."""
        address = next_vm_address()
        part = agent_part(name, address, LabConfig(lab_dir=self.lab_dir), cpu=cpu, memory=memory)
        lab = Lab(self.lab_dir, [part])
        lab.up()
        self.started.append((lab, part))
        return address

    def stop_all(self) -> None:
        """Stop every agent this fleet started."""
        for lab, part in self.started:
            lab.stop(part)


def lab_settings(lab: MonitoringLab, state_dir: Path, **overrides: object) -> MonitoringSettings:
    """Monitoring settings pointing at the session's lab (compressed timings)."""
    values: dict[str, object] = {
        "state_dir": state_dir,
        "prometheus_url": lab.prometheus_url,
        "alertmanager_url": lab.alertmanager_url,
        "file_sd_dir": lab.paths.file_sd_dir,
        "rules_dir": lab.paths.rules_dir,
        "alertmanager_config": lab.paths.alertmanager_config,
        "webhook_credentials_file": str(lab.paths.webhook_credentials_file),
        "rule_interval": "1s",
        "rate_window": "5s",
        "route_group_wait": "1s",
        "route_group_interval": "1s",
        "grafana_url": lab.grafana_url,
        "grafana_token": lab.grafana.token_file.read_text().strip(),
        # vmscale's default: a non-root login that uses sudo (ssh_sudo unset = sudo)
        "ssh_user": lab.sshd.sudo_user,
        "ssh_key_file": lab.sshd.user_key,
        "ssh_port": lab.config.sshd_port,
        "ssh_known_hosts": state_dir / "known_hosts",
        "agent_prefix": state_dir / "vm-root",
        "node_exporter_artifact": Path("/usr/bin/prometheus-node-exporter"),
        "register_poll_interval_s": 0.5,
    }
    values.update(overrides)
    return MonitoringSettings(**values)  # type: ignore[arg-type]

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

__all__ = ["AgentFleet", "MonitoringLab", "next_vm_address"]


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

"""Addresses and ports of the lab, in one place (all loopback)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["LabConfig"]


@dataclass(frozen=True)
class LabConfig:
    """Where the lab lives and where each part listens.

    ``vm_network`` is the loopback range lab VMs get their addresses from (each VM's agent binds
    its own 127.x.y.z); the scaler's demo IP pool is carved from it.
    """

    lab_dir: Path = Path(".lab")
    host: str = "127.0.0.1"
    vcsim_port: int = 18989
    prometheus_port: int = 19090
    alertmanager_port: int = 19093
    grafana_port: int = 13000
    f5_port: int = 18443
    haproxy_stats_port: int = 18404
    haproxy_frontend_port: int = 18080
    jenkins_port: int = 18081
    sshd_port: int = 12222
    agent_port: int = 9100
    node_exporter_port: int = 19100
    app_port: int = 8080
    vm_network: str = "127.0.10.0/24"

    def __post_init__(self) -> None:
        # Parts run with their own directory as working directory: every path must be absolute.
        object.__setattr__(self, "lab_dir", Path(self.lab_dir).resolve())

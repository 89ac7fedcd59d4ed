"""Addresses and ports of the lab, in one place (all loopback)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, fields
from pathlib import Path

__all__ = ["CONFIG_ENV", "LabConfig", "lab_config", "lab_config_file"]

CONFIG_ENV = "VMSCALE_LAB_CONFIG"
"""Names a JSON file of ``LabConfig`` fields that ``make run`` uses instead of the defaults."""


@dataclass(frozen=True)
class LabConfig:
    """Where the lab lives and where each part listens.

    ``vm_network`` is the loopback range lab VMs get their addresses from (each VM's agent binds
    its own 127.x.y.z); the scaler's demo IP pool is carved from it. ``otlp_endpoint`` names a
    trace collector (the end-to-end tests' loopback receiver), none by default.
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
    otlp_endpoint: str = ""
    """An OTLP/HTTP collector's traces URL (``http://127.0.0.1:4318/v1/traces``) the services send
    their spans to; "" sends none (the services' default)."""

    def __post_init__(self) -> None:
        # Parts run with their own directory as working directory: every path must be absolute.
        object.__setattr__(self, "lab_dir", Path(self.lab_dir).resolve())


def lab_config(lab_dir: Path) -> LabConfig:
    """The demo's lab: the defaults under ``lab_dir``, or the fields of the JSON file named by
    ``VMSCALE_LAB_CONFIG`` (the end-to-end tests run the demo itself on free ports that way).
    Unknown fields are refused, so a typo does not fall back to a default port silently."""
    path = os.environ.get(CONFIG_ENV)
    if not path:
        return LabConfig(lab_dir=lab_dir)
    values = json.loads(Path(path).read_text(encoding="utf-8"))
    known = {f.name for f in fields(LabConfig)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"{path}: unknown lab settings {', '.join(unknown)}")
    return LabConfig(**{"lab_dir": lab_dir, **values})


def lab_config_file(config: LabConfig, path: Path) -> Path:
    """Write ``config`` where ``VMSCALE_LAB_CONFIG`` can name it; the path."""
    values = {f.name: getattr(config, f.name) for f in fields(LabConfig)}
    values["lab_dir"] = str(config.lab_dir)
    path.write_text(json.dumps(values, indent=2), encoding="utf-8")
    return path

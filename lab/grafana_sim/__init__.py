"""A protocol-faithful Grafana simulator for the lab (service-account bearer auth, folders,
data sources, dashboards by uid, annotations), written from Grafana's HTTP API docs."""

from __future__ import annotations

import secrets
import sys
from dataclasses import dataclass
from pathlib import Path

from lab.config import LabConfig
from lab.runner import Part

__all__ = ["GrafanaPaths", "grafana_part", "grafana_paths"]


@dataclass(frozen=True)
class GrafanaPaths:
    """The generated credentials of the simulator."""

    directory: Path

    @property
    def token_file(self) -> Path:
        """The service-account token vmscale presents as ``Bearer``."""
        return self.directory / "service-account-token"

    @property
    def admin_password_file(self) -> Path:
        """The admin user's password (HTTP Basic)."""
        return self.directory / "admin-password"


def grafana_paths(config: LabConfig, name: str = "grafana") -> GrafanaPaths:
    """The files of the part named ``name`` under the lab directory."""
    return GrafanaPaths(config.lab_dir.resolve() / name)


def grafana_part(config: LabConfig, *, name: str = "grafana", port: int | None = None) -> Part:
    """The simulator on ``config.host:port`` with generated credentials."""
    host = config.host
    port = port or config.grafana_port

    def prepare(directory: Path) -> None:
        paths = GrafanaPaths(directory)
        for path in (paths.token_file, paths.admin_password_file):
            if not path.exists():
                path.write_text("glsa_" + secrets.token_urlsafe(24) + "\n")
                path.chmod(0o600)

    def command(directory: Path) -> list[str]:
        paths = GrafanaPaths(directory)
        return [
            sys.executable,
            "-m",
            "lab.grafana_sim",
            "--host",
            host,
            "--port",
            str(port),
            "--token-file",
            str(paths.token_file),
            "--admin-password-file",
            str(paths.admin_password_file),
        ]

    return Part(name=name, command=command, host=host, prepare=prepare, ready_url=f"http://{host}:{port}/api/health")

"""Lab part: the Jenkins simulator, with a generated user, password and API token."""

from __future__ import annotations

import secrets
import sys
from pathlib import Path

from lab.config import LabConfig
from lab.runner import Part

__all__ = ["jenkins_part", "parts", "read_credentials"]

USER = "vmscale"


def read_credentials(directory: Path) -> tuple[str, str, str]:
    """(user, password, api token) the part generated into its directory."""
    user, password, token = (directory / "users").read_text().strip().split(":", 2)
    return user, password, token


def jenkins_part(config: LabConfig, *, name: str = "jenkins", port: int | None = None) -> Part:
    """The simulator on ``config.host:port``."""
    host = config.host
    port = port or config.jenkins_port

    def prepare(directory: Path) -> None:
        users = directory / "users"
        if not users.exists():
            users.write_text(f"{USER}:{secrets.token_urlsafe(18)}:{secrets.token_hex(17)}\n")
            users.chmod(0o600)
        token = directory / "token"  # for the scaler's JENKINS_TOKEN_FILE
        token.write_text(read_credentials(directory)[2] + "\n")
        token.chmod(0o600)

    def command(directory: Path) -> list[str]:
        return [
            sys.executable,
            "-m",
            "lab.jenkins_sim",
            "--host",
            host,
            "--port",
            str(port),
            "--users-file",
            str(directory / "users"),
        ]

    return Part(name=name, command=command, host=host, prepare=prepare, ready_url=f"http://{host}:{port}/login")


def parts(config: LabConfig) -> list[Part]:
    """The lab's Jenkins."""
    return [jenkins_part(config)]

"""The SSH login to VMs: a non-root user with sudo by default; root, when chosen, without sudo."""

from __future__ import annotations

import pytest

from services.monitoring.settings import MonitoringSettings
from services.monitoring.wiring import vm_connector

CASES = [
    ({}, "vmscale", True),
    ({"ssh_user": "ubuntu"}, "ubuntu", True),
    ({"ssh_user": "root"}, "root", False),
    ({"ssh_user": "root", "ssh_sudo": True}, "root", True),
    ({"ssh_user": "deploy", "ssh_sudo": False}, "deploy", False),
]


@pytest.mark.parametrize(
    ("values", "user", "sudo"),
    CASES,
    ids=[
        "default is a non-root login that uses sudo",
        "another non-root login uses sudo too",
        "root explicitly runs without sudo",
        "sudo can be asked for explicitly",
        "sudo can be turned off for a login that owns the agent paths",
    ],
)
def test_the_vm_login_and_whether_it_uses_sudo(
    values: dict[str, object], user: str, sudo: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("SSH_USER", "DEFAULT_SSH_USER", "SSH_SUDO"):
        monkeypatch.delenv(name, raising=False)
    settings = MonitoringSettings(**values)  # type: ignore[arg-type]
    connector = vm_connector(settings)
    assert (connector.user, connector.sudo, settings.ssh_uses_sudo) == (user, sudo, sudo)


def test_ssh_sudo_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSH_USER", "root")
    monkeypatch.setenv("SSH_SUDO", "true")
    assert MonitoringSettings().ssh_uses_sudo

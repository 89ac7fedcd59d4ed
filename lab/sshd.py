"""Lab part: an OpenSSH server on a loopback port standing in for the VMs' sshd.

The part directory holds a generated host key, a generated lab user key (``id_ed25519``, the
key vmscale is configured with) and the ``authorized_keys`` that admits it. sshd runs in the
foreground as the current user, password logins off, SFTP through ``internal-sftp``.

Logins: vmscale's default, a non-root user with passwordless sudo (``sudo_user``: ``vmscale``,
created by ``scripts/setup.d/10-lab-sudo-user.sh``, when the lab runs as root; otherwise the
lab's own user, the only one an unprivileged sshd can log in), and the lab's own user
(``user``, root when the lab runs as root). As root, sshd reads the keys through
``AuthorizedKeysCommand`` as root, so the part directory (under a private temp directory in
tests) need not be readable by the sudo user.
"""

from __future__ import annotations

import getpass
import os
import pwd
import subprocess
from dataclasses import dataclass
from ipaddress import IPv4Network
from pathlib import Path

from lab.config import LabConfig
from lab.runner import Part, stop_processes_under

__all__ = ["SshdPaths", "sshd_part", "sshd_paths"]

SSHD = "/usr/sbin/sshd"
SSH_KEYGEN = "/usr/bin/ssh-keygen"
CAT = "/usr/bin/cat"
LAB_SUDO_USER = "vmscale"
"""The non-root login with passwordless sudo that setup creates (vmscale's default ``SSH_USER``)."""


def _as_root() -> bool:
    return os.geteuid() == 0


@dataclass(frozen=True)
class SshdPaths:
    """The generated files of the lab sshd."""

    directory: Path

    @property
    def host_key(self) -> Path:
        """The server's private host key (its ``.pub`` beside it)."""
        return self.directory / "ssh_host_ed25519_key"

    @property
    def user_key(self) -> Path:
        """The lab user's private key, admitted by ``authorized_keys``."""
        return self.directory / "id_ed25519"

    @property
    def authorized_keys(self) -> Path:
        """Public keys allowed to log in."""
        return self.directory / "authorized_keys"

    @property
    def user(self) -> str:
        """The lab's own login (the user the lab runs as: root when it runs as root)."""
        return getpass.getuser()

    @property
    def sudo_user(self) -> str:
        """The non-root login with passwordless sudo (``vmscale`` when the lab runs as root,
        else the lab's own user, whose sudo is then the operator's to set up)."""
        return LAB_SUDO_USER if _as_root() else getpass.getuser()


def sshd_paths(config: LabConfig, name: str = "sshd") -> SshdPaths:
    """The files of the part named ``name`` under the lab directory."""
    return SshdPaths(config.lab_dir.resolve() / name)


def _keygen(path: Path, comment: str) -> None:
    if not path.exists():
        subprocess.run(
            [SSH_KEYGEN, "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
            check=True,
            capture_output=True,
        )


def base_vm_addresses(config: LabConfig) -> list[str]:
    """The guest IPs of the lab's two base VMs (``lab.vcsim.lab_topology`` seeds them there)."""
    hosts = list(IPv4Network(config.vm_network).hosts())
    return [str(hosts[9]), str(hosts[10])]


def _stop_vm_root(config: LabConfig) -> None:
    stop_processes_under(config.lab_dir / "vm-root")


def sshd_part(config: LabConfig, *, name: str = "sshd", port: int | None = None) -> Part:
    """sshd on ``config.host:port`` with generated keys under the part directory."""
    host = config.host
    port = port or config.sshd_port

    def prepare(directory: Path) -> None:
        paths = SshdPaths(directory)
        directory.mkdir(parents=True, exist_ok=True)
        directory.chmod(0o700)
        _keygen(paths.host_key, "vmscale-lab-host")
        _keygen(paths.user_key, "vmscale-lab-user")
        paths.authorized_keys.write_text(paths.user_key.with_suffix(".pub").read_text())
        paths.authorized_keys.chmod(0o600)
        if _as_root():
            try:
                pwd.getpwnam(LAB_SUDO_USER)
            except KeyError:
                raise RuntimeError(f"the lab's SSH user {LAB_SUDO_USER!r} is missing: run `make setup`") from None
            # sshd reads the keys as root, whatever the login: the part directory stays private.
            keys = [
                "AuthorizedKeysFile none",
                f"AuthorizedKeysCommand {CAT} {paths.authorized_keys}",
                "AuthorizedKeysCommandUser root",
            ]
        else:
            keys = [f"AuthorizedKeysFile {paths.authorized_keys}"]
        # sshd started as root insists on its privilege-separation directory.
        Path("/run/sshd").mkdir(mode=0o755, parents=True, exist_ok=True)
        (directory / "sshd_config").write_text(
            "\n".join(
                [
                    f"Port {port}",
                    f"ListenAddress {host}",
                    # The lab's base VMs' own addresses too, so "SSH to the VM" reaches this
                    # sshd at the VM's IP, as on a real network.
                    *(f"ListenAddress {address}" for address in base_vm_addresses(config)),
                    f"HostKey {paths.host_key}",
                    f"PidFile {directory / 'sshd.pid'}",
                    *keys,
                    "PubkeyAuthentication yes",
                    "PasswordAuthentication no",
                    "KbdInteractiveAuthentication no",
                    "PermitRootLogin prohibit-password",
                    "UsePAM no",
                    "StrictModes no",
                    "PrintMotd no",
                    "MaxStartups 100:30:200",
                    "MaxSessions 50",
                    "Subsystem sftp internal-sftp",
                    "",
                ]
            )
        )

    def command(directory: Path) -> list[str]:
        return [SSHD, "-D", "-e", "-f", str(directory / "sshd_config")]

    return Part(
        name=name,
        command=command,
        host=host,
        prepare=prepare,
        ready_port=port,
        # Agents vmscale installed over this sshd run inside the lab's VM root: end them too.
        cleanup=lambda _directory: _stop_vm_root(config),
    )

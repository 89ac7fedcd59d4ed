"""SSH host certificates: a ``@cert-authority`` line vouches for every clone whose host key the CA
signed, with no trust on first use; a host without such a certificate is refused.

A real OpenSSH server of the test's own, with a CA-signed host key (``HostCertificate``).
"""

from __future__ import annotations

import getpass
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from lab.sshd import SSH_KEYGEN, SSHD
from services.monitoring.adapters.ssh import AsyncsshConnector
from services.monitoring.errors import HostKeyChanged
from shared.embedded import free_port, wait_port

HOST = "127.0.0.1"


def keygen(path: Path) -> Path:
    subprocess.run([SSH_KEYGEN, "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True, capture_output=True)
    return path


@dataclass
class Sshd:
    port: int
    user_key: Path
    ca_public: str


def start_sshd(directory: Path, *, certified: bool) -> tuple[subprocess.Popen[bytes], Sshd]:
    directory.mkdir(mode=0o700)
    host_key, user_key, ca = keygen(directory / "host"), keygen(directory / "user"), keygen(directory / "ca")
    lines = [f"HostKey {host_key}"]
    if certified:  # the CA signs the host key for the address vmscale connects to
        subprocess.run(
            [SSH_KEYGEN, "-q", "-s", str(ca), "-I", "clone", "-h", "-n", HOST, f"{host_key}.pub"],
            check=True,
            capture_output=True,
        )
        lines.append(f"HostCertificate {host_key}-cert.pub")
    (directory / "authorized_keys").write_text(Path(f"{user_key}.pub").read_text())
    Path("/run/sshd").mkdir(mode=0o755, parents=True, exist_ok=True)
    port = free_port()
    (directory / "sshd_config").write_text(
        "\n".join(
            [
                f"Port {port}",
                f"ListenAddress {HOST}",
                *lines,
                f"PidFile {directory / 'sshd.pid'}",
                f"AuthorizedKeysFile {directory / 'authorized_keys'}",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "PermitRootLogin prohibit-password",
                "UsePAM no",
                "StrictModes no",
                "",
            ]
        )
    )
    process = subprocess.Popen([SSHD, "-D", "-e", "-f", str(directory / "sshd_config")], stderr=subprocess.DEVNULL)
    wait_port(HOST, port)
    return process, Sshd(port, user_key, Path(f"{ca}.pub").read_text().strip())


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[tuple[Sshd, Sshd]]:
    started = [start_sshd(tmp_path / "certified", certified=True), start_sshd(tmp_path / "plain", certified=False)]
    try:
        yield started[0][1], started[1][1]
    finally:
        for process, _ in started:
            process.terminate()
            process.wait(timeout=10)


def connector(tmp_path: Path, server: Sshd, ca_public: str, **options: object) -> AsyncsshConnector:
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(f"@cert-authority {HOST},[{HOST}]:* {ca_public}\n")
    return AsyncsshConnector(
        user=getpass.getuser(),
        key_file=server.user_key,
        known_hosts=known_hosts,
        port=server.port,
        connect_timeout=5.0,
        **options,  # type: ignore[arg-type]
    )


async def test_a_host_with_a_certificate_from_the_ca_is_trusted_without_recording_its_key(
    servers: tuple[Sshd, Sshd], tmp_path: Path
) -> None:
    certified, _ = servers
    ssh = connector(tmp_path, certified, certified.ca_public, strict=True)  # strict: no trust on first use
    host = await ssh.connect(HOST)
    assert (await host.run(["true"])).exit_status == 0
    await host.close()
    assert ssh.known_hosts.read_text().count("\n") == 1  # only the CA line: nothing was pinned


async def test_a_host_the_ca_covers_but_without_a_certificate_is_refused(
    servers: tuple[Sshd, Sshd], tmp_path: Path
) -> None:
    certified, plain = servers
    ssh = connector(tmp_path, plain, certified.ca_public)  # the CA's patterns cover the plain host too
    with pytest.raises(HostKeyChanged):
        await ssh.connect(HOST)
    assert ssh.known_hosts.read_text().count("\n") == 1  # and its key was not trusted on first use

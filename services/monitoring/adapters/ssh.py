"""SSH to VMs and to the PLG host with asyncssh: classified errors, trust on first use.

Host keys: on the first connection to ``[host]:port`` the presented key is recorded in
vmscale's own known_hosts file; later connections must present the same key
(``HostKeyChanged`` otherwise). With ``strict`` an unrecorded host is refused
(``HostKeyUnknown``). ``forget`` drops an address's keys when its VM is deregistered, so the
IP pool can hand the address to a new VM (with new host keys) without a ``HostKeyChanged``.
SSH host certificates: a ``@cert-authority`` line in the file vouches for the hosts its patterns
match; asyncssh is then handed the file itself and checks the host's certificate (for cloned
fleets, where every clone gets new keys, this replaces trust on first use).
Commands are argv lists joined with ``shlex`` — one level of quoting, never nested shell
strings — and files travel over SFTP (temp name + rename). With ``sudo`` (a non-root login, the
default) every command runs as ``sudo -n -- argv`` (never a password prompt: a login without
passwordless sudo fails the command), and ``put`` stages the file in /tmp over SFTP and installs
it with sudo, so the agent's files and its service are root's, as an operator expects.
"""

from __future__ import annotations

import asyncio
import contextlib
import shlex
import uuid
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Any

import asyncssh

from services.monitoring.errors import (
    AuthenticationFailed,
    HostKeyChanged,
    HostKeyUnknown,
    HostUnreachable,
    RemoteCommandFailed,
    SshTimeout,
)
from services.monitoring.ports import CommandResult
from shared.errors import ConfigurationError

__all__ = ["AsyncsshConnector", "AsyncsshHost"]


def _host_pattern(host: str, port: int) -> str:
    return host if port == 22 else f"[{host}]:{port}"


class AsyncsshHost:
    """``RemoteHost`` over one asyncssh connection (plus the SFTP helpers the stores use)."""

    def __init__(self, conn: asyncssh.SSHClientConnection, host: str, command_timeout: float, sudo: bool) -> None:
        self._conn = conn
        self.host = host
        self._timeout = command_timeout
        self._sudo = sudo
        self.closed = False

    async def run(self, argv: Sequence[str], *, stdin: str | None = None, check: bool = True) -> CommandResult:
        """Run ``argv`` (through ``sudo -n`` when this login uses sudo); see ``RemoteHost.run``."""
        command = shlex.join(["sudo", "-n", "--", *argv] if self._sudo else list(argv))
        try:
            result = await self._conn.run(command, input=stdin, check=False, timeout=self._timeout)
        except asyncssh.TimeoutError as exc:
            raise SshTimeout("remote command timed out", host=self.host, command=argv[0]) from exc
        except (asyncssh.Error, OSError) as exc:
            raise HostUnreachable("SSH connection lost", host=self.host, error=type(exc).__name__) from exc
        out = CommandResult(int(result.exit_status or 0), str(result.stdout or ""), str(result.stderr or ""))
        if check and out.exit_status != 0:
            raise RemoteCommandFailed(
                "remote command failed",
                host=self.host,
                command=argv[0],
                exit_status=out.exit_status,
                stderr=out.stderr[-500:],
            )
        return out

    async def _sftp(self) -> asyncssh.SFTPClient:
        try:
            return await self._conn.start_sftp_client()
        except (asyncssh.Error, OSError) as exc:
            raise HostUnreachable("SFTP unavailable", host=self.host, error=type(exc).__name__) from exc

    async def write_file(self, path: str, data: bytes, mode: int = 0o644) -> None:
        """Write ``path`` atomically: temp name in the same directory, chmod, posix-rename."""
        target = PurePosixPath(path)
        tmp = str(target.with_name(f".{target.name}.{uuid.uuid4().hex}.vmscale-tmp"))
        sftp = await self._sftp()
        try:
            async with sftp.open(tmp, "wb") as handle:
                await handle.write(data)
            await sftp.chmod(tmp, mode)
            await sftp.posix_rename(tmp, path)
        except (asyncssh.SFTPError, OSError) as exc:
            with contextlib.suppress(asyncssh.SFTPError, OSError):
                await sftp.remove(tmp)
            raise RemoteCommandFailed("SFTP write failed", host=self.host, path=path, error=str(exc)) from exc
        finally:
            sftp.exit()

    async def put(self, data: bytes, path: str, mode: int = 0o644) -> None:
        """``RemoteHost.put``; with sudo the file is staged in /tmp, installed with sudo under a
        temporary name beside ``path`` and renamed onto it (``install`` and ``mv`` run through
        ``run``, hence through ``sudo -n``). Either way the file appears whole: ``install``
        alone truncates and rewrites the target in place, and a reader (the agent starting, a
        checksum, another installer) would see it half-written."""
        if not self._sudo:
            await self.write_file(path, data, mode)
            return
        token = uuid.uuid4().hex
        staged = f"/tmp/vmscale-{token}"  # noqa: S108 - staging on the remote host
        beside = str(PurePosixPath(path).with_name(f".{PurePosixPath(path).name}.vmscale-{token}"))
        await self.write_file(staged, data, 0o600)
        try:
            await self.run(["install", "-m", f"{mode:o}", staged, beside])
            await self.run(["mv", "-f", "-T", beside, path])
        finally:
            await self.run(["rm", "-f", staged, beside], check=False)

    async def read_file(self, path: str) -> bytes | None:
        """The file's bytes or ``None`` when it does not exist."""
        sftp = await self._sftp()
        try:
            async with sftp.open(path, "rb") as handle:
                data: bytes = await handle.read()
                return data
        except asyncssh.SFTPNoSuchFile:
            return None
        except (asyncssh.SFTPError, OSError) as exc:
            raise RemoteCommandFailed("SFTP read failed", host=self.host, path=path, error=str(exc)) from exc
        finally:
            sftp.exit()

    async def makedirs(self, path: str) -> None:
        """``mkdir -p`` over SFTP."""
        sftp = await self._sftp()
        try:
            await sftp.makedirs(path, exist_ok=True)
        finally:
            sftp.exit()

    async def listdir(self, path: str) -> list[str]:
        """Names in a remote directory (empty when it does not exist)."""
        sftp = await self._sftp()
        try:
            return [str(n) for n in await sftp.listdir(path) if n not in (".", "..")]
        except asyncssh.SFTPNoSuchFile:
            return []
        finally:
            sftp.exit()

    async def remove(self, path: str) -> bool:
        """Remove a remote file; ``False`` when it did not exist."""
        sftp = await self._sftp()
        try:
            await sftp.remove(path)
        except asyncssh.SFTPNoSuchFile:
            return False
        finally:
            sftp.exit()
        return True

    async def close(self) -> None:
        """Close the connection."""
        if not self.closed:
            self.closed = True
            self._conn.close()
            with contextlib.suppress(Exception):
                await self._conn.wait_closed()


class AsyncsshConnector:
    """``HostConnector`` with one user and key, and vmscale's own known_hosts file."""

    def __init__(
        self,
        *,
        user: str,
        key_file: Path | None,
        known_hosts: Path,
        strict: bool = False,
        port: int = 22,
        connect_timeout: float = 10.0,
        command_timeout: float = 300.0,
        sudo: bool = False,
    ) -> None:
        self.user = user
        self._key_file = key_file
        self.known_hosts = known_hosts
        self.strict = strict
        self.port = port
        self._connect_timeout = connect_timeout
        self._command_timeout = command_timeout
        self.sudo = sudo
        self._record_lock = asyncio.Lock()

    def _recorded(self, pattern: str) -> list[str]:
        if not self.known_hosts.exists():
            return []
        return [line for line in self.known_hosts.read_text().splitlines() if line.split(" ", 1)[0] == pattern]

    def _vouched(self, host: str, port: int) -> bool:
        """Whether the known_hosts file has a key or a certificate authority for ``host:port``."""
        if not self.known_hosts.exists():
            return False
        try:
            known = asyncssh.read_known_hosts(str(self.known_hosts))
        except (OSError, ValueError, asyncssh.KeyImportError) as exc:
            raise ConfigurationError("cannot read the known_hosts file", path=str(self.known_hosts)) from exc
        host_keys, ca_keys, *_ = known.match(host, host, None if port == 22 else port)
        return bool(host_keys or ca_keys)

    async def connect(self, host: str, port: int | None = None) -> AsyncsshHost:
        """Connect and authenticate; see ``HostConnector.connect``."""
        port = port or self.port
        pattern = _host_pattern(host, port)
        vouched = self._vouched(host, port)
        if not vouched and self.strict:
            raise HostKeyUnknown("host key not recorded and strict host-key checking is on", host=pattern)
        options: dict[str, Any] = {
            "username": self.user,
            "port": port,
            # The file itself (recorded keys, @cert-authority, @revoked) when it knows the host;
            # nothing (trust on first use, recorded below) when it does not.
            "known_hosts": str(self.known_hosts) if vouched else None,
            # every algorithm, certificates first: a host that shows a plain key where a CA
            # vouches is then refused as a wrong key (HostKeyChanged), not as a failed handshake
            "server_host_key_algs": "default",
            "agent_path": None,
            "config": [],
            "preferred_auth": "publickey",
            "connect_timeout": self._connect_timeout,
        }
        if self._key_file is not None:
            try:
                options["client_keys"] = [asyncssh.read_private_key(str(self._key_file))]
            except (OSError, asyncssh.KeyImportError) as exc:
                raise ConfigurationError("cannot read the SSH key", key=self._key_file.name) from exc
        try:
            conn = await asyncssh.connect(host, **options)
        except asyncssh.HostKeyNotVerifiable as exc:
            raise HostKeyChanged("the host key differs from the recorded one", host=pattern) from exc
        except asyncssh.PermissionDenied as exc:
            raise AuthenticationFailed("the host refused the SSH key", host=pattern, user=self.user) from exc
        except (TimeoutError, asyncssh.TimeoutError) as exc:
            raise SshTimeout("SSH connection timed out", host=pattern) from exc
        except (OSError, asyncssh.Error) as exc:
            raise HostUnreachable("SSH connection failed", host=pattern, error=type(exc).__name__) from exc
        if not vouched:
            await self._record(pattern, conn)
        return AsyncsshHost(conn, host, self._command_timeout, self.sudo)

    async def forget(self, host: str) -> int:
        """See ``HostConnector.forget``: rewrites the file without ``host``'s lines (atomically)."""
        patterns = {host}
        async with self._record_lock:
            if not self.known_hosts.exists():
                return 0
            lines = self.known_hosts.read_text().splitlines()
            kept = [
                line
                for line in lines
                if not ((first := line.split(" ", 1)[0]) in patterns or first.startswith(f"[{host}]:"))
            ]
            dropped = len(lines) - len(kept)
            if dropped:
                scratch = self.known_hosts.with_name(f".{self.known_hosts.name}.{uuid.uuid4().hex[:8]}")
                scratch.write_text("".join(line + "\n" for line in kept))
                scratch.replace(self.known_hosts)
        return dropped

    async def _record(self, pattern: str, conn: asyncssh.SSHClientConnection) -> None:
        key = conn.get_server_host_key()
        if key is None:
            return
        algorithm, blob = key.export_public_key("openssh").decode().split()[:2]
        line = f"{pattern} {algorithm} {blob}"
        async with self._record_lock:
            if not self._recorded(pattern):
                self.known_hosts.parent.mkdir(parents=True, exist_ok=True)
                with self.known_hosts.open("a") as handle:
                    handle.write(line + "\n")

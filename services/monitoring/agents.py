"""Agents on VMs over SSH: install, status, uninstall, and batches with bounded concurrency.

Each step is one argv command or one SFTP transfer; status comes from exit codes of separate
checks, reported as structured data (lesson 43). Re-running an install changes nothing when
the binary (by checksum) and every rendered file are already in place. Processes are stopped
by their unit or their recorded PID, never by pattern-matching names (lesson 40).
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from services.monitoring.agent_specs import AgentSpec, supervisor_script, systemd_unit
from services.monitoring.errors import RemoteCommandFailed
from services.monitoring.ports import HostConnector, RemoteHost
from shared.errors import ConfigurationError, OperationTimeout, VmscaleError

__all__ = ["AgentInstaller", "Artifact", "HostResult", "SpecBuilder"]

SpecBuilder = Callable[[str], AgentSpec]
"""Builds a spec from the VM's own host name (``uname -n`` on the VM), e.g. Promtail's."""

_HOSTNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$")


@dataclass(frozen=True)
class Artifact:
    """An agent binary and its expected SHA-256 (checked before it leaves this host)."""

    data: bytes
    sha256: str = ""

    def verified(self) -> bytes:
        """The bytes, or ``ConfigurationError`` when the checksum does not match."""
        actual = hashlib.sha256(self.data).hexdigest()
        if self.sha256 and actual != self.sha256.lower():
            raise ConfigurationError("agent artifact checksum mismatch", expected=self.sha256, actual=actual)
        return self.data


@dataclass(frozen=True)
class HostResult:
    """The outcome for one host of a batch."""

    host: str
    ok: bool
    changed: bool = False
    status: dict[str, Any] = field(default_factory=dict)
    error_kind: str | None = None
    reason: str = ""


async def _exists(host: RemoteHost, path: PurePosixPath) -> bool:
    return (await host.run(["test", "-e", str(path)], check=False)).exit_status == 0


async def _content(host: RemoteHost, path: PurePosixPath) -> bytes | None:
    result = await host.run(["cat", str(path)], check=False)
    return result.stdout.encode() if result.exit_status == 0 else None


class AgentInstaller:
    """Installs one ``AgentSpec`` on hosts reached through ``connector``."""

    def __init__(
        self,
        connector: HostConnector,
        probe: Callable[[str, int], Awaitable[bool]],
        *,
        ready_timeout_s: float = 15.0,
    ) -> None:
        self._connector = connector
        self._probe = probe
        self._ready_timeout_s = ready_timeout_s

    async def forget_host(self, address: str) -> int:
        """Forget ``address``'s recorded host keys (its VM is gone); how many."""
        return await self._connector.forget(address)

    async def _systemd(self, host: RemoteHost) -> bool:
        return await _exists(host, PurePosixPath("/run/systemd/system"))

    async def _put_if_changed(self, host: RemoteHost, path: PurePosixPath, data: bytes, mode: int) -> bool:
        if await _content(host, path) == data:
            return False
        await host.run(["mkdir", "-p", str(path.parent)])
        await host.put(data, str(path), mode)
        return True

    async def _binary(self, host: RemoteHost, spec: AgentSpec, artifact: Artifact) -> bool:
        data = artifact.verified()
        digest = hashlib.sha256(data).hexdigest()
        current = await host.run(["sha256sum", str(spec.binary)], check=False)
        if current.exit_status == 0 and current.stdout.split(" ", 1)[0] == digest:
            return False
        await host.run(["mkdir", "-p", str(spec.binary.parent)])
        await host.put(data, str(spec.binary), 0o755)
        copied = await host.run(["sha256sum", str(spec.binary)])
        if copied.stdout.split(" ", 1)[0] != digest:
            raise ConfigurationError("the copied agent binary does not match its checksum", path=str(spec.binary))
        return True

    async def _supervised_pid(self, host: RemoteHost, spec: AgentSpec) -> int | None:
        raw = await _content(host, spec.state_dir / "supervisor.pid")
        if not raw or not raw.strip().isdigit():
            return None
        pid = int(raw.strip())
        alive = await host.run(["kill", "-0", str(pid)], check=False)
        return pid if alive.exit_status == 0 else None

    async def _stop_supervised(self, host: RemoteHost, spec: AgentSpec) -> None:
        pid = await self._supervised_pid(host, spec)
        if pid is not None:
            await host.run(["kill", "-TERM", str(pid)], check=False)
        child = await _content(host, spec.state_dir / "agent.pid")
        if child and child.strip().isdigit():
            await host.run(["kill", "-TERM", child.decode().strip()], check=False)
        await host.run(["rm", "-f", str(spec.state_dir / "supervisor.pid"), str(spec.state_dir / "agent.pid")])

    async def _hostname(self, host: RemoteHost) -> str:
        name = (await host.run(["uname", "-n"])).stdout.strip()
        if not _HOSTNAME.match(name):
            raise RemoteCommandFailed("the VM reports an unusable host name", command="uname", hostname=name[:64])
        return name

    async def install(
        self, address: str, spec: AgentSpec | SpecBuilder, artifact: Artifact, ssh_port: int | None = None
    ) -> HostResult:
        """Install (or verify) the agent on ``address``; ``changed`` is false on a re-run.

        A ``SpecBuilder`` is given the VM's own host name, so install and update render the
        same files. The artifact is verified before the connection is opened. Raises the
        classified SSH errors, ``ConfigurationError`` (checksum) and ``OperationTimeout`` when
        the agent does not answer on its port afterwards.
        """
        artifact.verified()
        host = await self._connector.connect(address, ssh_port)
        try:
            resolved = spec if isinstance(spec, AgentSpec) else spec(await self._hostname(host))
            changed = await self._binary(host, resolved, artifact)
            for name, content in resolved.files.items():
                changed |= await self._put_if_changed(host, resolved.config_dir / name, content, 0o644)
            if await self._systemd(host):
                unit_changed = await self._put_if_changed(host, resolved.unit_path, systemd_unit(resolved), 0o644)
                if unit_changed:
                    await host.run(["systemctl", "daemon-reload"])
                    await host.run(["systemctl", "enable", resolved.name])
                if changed or unit_changed:
                    await host.run(["systemctl", "restart", resolved.name])
                else:
                    await host.run(["systemctl", "start", resolved.name])
                changed |= unit_changed
            else:
                script = resolved.state_dir / "run.sh"
                script_changed = await self._put_if_changed(host, script, supervisor_script(resolved), 0o755)
                running = await self._supervised_pid(host, resolved) is not None
                if changed or script_changed or not running:
                    await self._stop_supervised(host, resolved)
                    await host.run(["setsid", "-f", str(script)])
                    changed = True
        finally:
            await host.close()
        await self._wait_ready(address, resolved.port)
        return HostResult(address, ok=True, changed=changed, status=await self.status(address, resolved, ssh_port))

    async def _wait_ready(self, address: str, port: int) -> None:
        deadline = asyncio.get_running_loop().time() + self._ready_timeout_s
        while not await self._probe(address, port):
            if asyncio.get_running_loop().time() > deadline:
                raise OperationTimeout("the agent does not answer on its port", host=address, port=port)
            await asyncio.sleep(0.3)

    async def status(self, address: str, spec: AgentSpec, ssh_port: int | None = None) -> dict[str, Any]:
        """Structured status: ``installed``, ``mode``, ``active``, ``enabled``, ``responding``."""
        host = await self._connector.connect(address, ssh_port)
        try:
            installed = await _exists(host, spec.binary)
            if await self._systemd(host):
                active = (
                    await host.run(["systemctl", "is-active", "--quiet", spec.name], check=False)
                ).exit_status == 0
                enabled = (
                    await host.run(["systemctl", "is-enabled", "--quiet", spec.name], check=False)
                ).exit_status == 0
                mode = "systemd"
            else:
                active = enabled = await self._supervised_pid(host, spec) is not None
                mode = "supervised"
        finally:
            await host.close()
        return {
            "tool": spec.name,
            "installed": installed,
            "mode": mode,
            "active": active,
            "enabled": enabled,
            "responding": await self._probe(address, spec.port),
            "port": spec.port,
        }

    async def uninstall(self, address: str, spec: AgentSpec, ssh_port: int | None = None) -> HostResult:
        """Stop the agent and remove its files; ``changed`` is false when nothing was there."""
        host = await self._connector.connect(address, ssh_port)
        try:
            present = await _exists(host, spec.binary)
            if await self._systemd(host):
                await host.run(["systemctl", "disable", "--now", spec.name], check=False)
                await host.run(["rm", "-f", str(spec.unit_path)])
                await host.run(["systemctl", "daemon-reload"])
            else:
                await self._stop_supervised(host, spec)
            await host.run(["rm", "-rf", str(spec.binary), str(spec.config_dir), str(spec.state_dir)])
        finally:
            await host.close()
        return HostResult(address, ok=True, changed=present)

    async def batch(
        self,
        hosts: Sequence[tuple[str, int | None]],
        operation: Callable[[str, int | None], Awaitable[HostResult]],
        concurrency: int,
    ) -> AsyncIterator[HostResult]:
        """Run ``operation`` on every host, at most ``concurrency`` at once; yield each result
        as it completes. A failing host yields ``ok=False`` with its error kind; the others go on."""
        limit = asyncio.Semaphore(concurrency)

        async def one(address: str, port: int | None) -> HostResult:
            async with limit:
                try:
                    return await operation(address, port)
                except VmscaleError as exc:
                    kind = getattr(exc, "kind", None) or type(exc).__name__
                    return HostResult(address, ok=False, error_kind=kind, reason=str(exc))

        for next_done in asyncio.as_completed([one(address, port) for address, port in hosts]):
            yield await next_done

"""Contract suite of the SSH ports (``HostConnector`` / ``RemoteHost``): run against the
in-memory ``FakeVm`` (unit tier) and asyncssh against the lab's OpenSSH server (integration).

A subclass provides ``connector(**options)`` (``strict``, ``wrong_key``), the reachable
``address``/``port``, a ``closed_port``, ``forge_recorded_key(connector)`` and a ``scratch``
directory on the host.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from pathlib import PurePosixPath
from typing import Any

import pytest

from services.monitoring.agent_specs import AgentSpec, supervisor_script
from services.monitoring.errors import (
    AuthenticationFailed,
    HostKeyChanged,
    HostKeyUnknown,
    HostUnreachable,
    RemoteCommandFailed,
)
from services.monitoring.ports import HostConnector, RemoteHost

__all__ = ["HostConnectorContract"]


class HostConnectorContract:
    """What every ``HostConnector`` and the ``RemoteHost`` it opens must do."""

    address = "127.0.0.1"
    port: int | None = None
    closed_port = 1

    def connector(self, **options: Any) -> HostConnector:
        raise NotImplementedError

    def forge_recorded_key(self, connector: HostConnector) -> None:
        raise NotImplementedError

    @pytest.fixture
    def scratch(self) -> PurePosixPath:
        raise NotImplementedError

    async def _host(self) -> RemoteHost:
        return await self.connector().connect(self.address, self.port)

    async def test_argv_elements_arrive_unsplit_and_unexpanded(self) -> None:
        host = await self._host()
        try:
            result = await host.run(["echo", "a  b", "$HOME", "; rm -rf /", "'q'"])
        finally:
            await host.close()
        assert (result.exit_status, result.stdout) == (0, "a  b $HOME ; rm -rf / 'q'\n")

    async def test_a_failing_command_raises_with_check_and_reports_without(self, scratch: PurePosixPath) -> None:
        host = await self._host()
        try:
            missing = str(scratch / "missing")
            assert (await host.run(["test", "-e", missing], check=False)).exit_status == 1
            with pytest.raises(RemoteCommandFailed) as caught:
                await host.run(["cat", missing])
            assert caught.value.details["exit_status"] == 1
            assert (await host.run(["no-such-program-vmscale"], check=False)).exit_status == 127
        finally:
            await host.close()

    async def test_stdin_reaches_the_command(self) -> None:
        host = await self._host()
        try:
            assert (await host.run(["cat"], stdin="line one\nline two\n")).stdout == "line one\nline two\n"
        finally:
            await host.close()

    async def test_put_writes_whole_files_with_their_mode(self, scratch: PurePosixPath) -> None:
        host = await self._host()
        path = str(scratch / "dir" / "file.bin")
        try:
            await host.run(["mkdir", "-p", str(scratch / "dir")])
            await host.put(b"a much longer first version\n", path, 0o644)
            await host.put(b"\x00short\n", path, 0o755)
            assert (await host.run(["cat", path])).stdout == "\x00short\n"
            assert (await host.run(["test", "-x", path], check=False)).exit_status == 0
            digest = (await host.run(["sha256sum", path])).stdout.split(" ", 1)[0]
            assert digest == hashlib.sha256(b"\x00short\n").hexdigest()
            await host.put(b"plain", path, 0o644)
            assert (await host.run(["test", "-x", path], check=False)).exit_status == 1
        finally:
            await host.close()

    async def test_put_into_a_missing_directory_fails_and_writes_nothing(self, scratch: PurePosixPath) -> None:
        host = await self._host()
        path = str(scratch / "nowhere" / "file")
        try:
            with pytest.raises(RemoteCommandFailed):
                await host.put(b"x", path)
            assert (await host.run(["test", "-e", path], check=False)).exit_status == 1
        finally:
            await host.close()

    async def test_rm_removes_files_and_trees(self, scratch: PurePosixPath) -> None:
        host = await self._host()
        tree = scratch / "tree"
        try:
            await host.run(["mkdir", "-p", str(tree / "sub")])
            await host.put(b"1", str(tree / "sub" / "a"))
            await host.put(b"2", str(scratch / "single"))
            await host.run(["rm", "-f", str(scratch / "single"), str(scratch / "never-there")])
            assert (await host.run(["rm", str(tree)], check=False)).exit_status == 1
            await host.run(["rm", "-rf", str(tree)])
            for path in (tree, tree / "sub" / "a", scratch / "single"):
                assert (await host.run(["test", "-e", str(path)], check=False)).exit_status == 1
        finally:
            await host.close()

    async def test_the_host_reports_its_own_name(self) -> None:
        host = await self._host()
        try:
            name = (await host.run(["uname", "-n"])).stdout.strip()
        finally:
            await host.close()
        assert re.match(r"^[A-Za-z0-9][A-Za-z0-9.-]*$", name)

    async def test_close_is_idempotent_and_a_closed_host_is_unreachable(self) -> None:
        host = await self._host()
        await host.close()
        await host.close()
        with pytest.raises(HostUnreachable):
            await host.run(["true"])

    async def test_the_supervisor_script_runs_a_program_and_stops_with_it(self, scratch: PurePosixPath) -> None:
        spec = AgentSpec(name="sleeper", port=1, prefix=scratch, command=("/bin/sleep", "30"))
        script = str(spec.state_dir / "run.sh")
        host = await self._host()
        try:
            await host.run(["mkdir", "-p", str(spec.state_dir)])
            await host.put(supervisor_script(spec), script, 0o755)
            await host.run(["setsid", "-f", script])
            supervisor = await self._read_pid(host, str(spec.state_dir / "supervisor.pid"))
            child = await self._read_pid(host, str(spec.state_dir / "agent.pid"))
            assert supervisor != child
            assert (await host.run(["kill", "-0", str(child)], check=False)).exit_status == 0
            await host.run(["kill", "-TERM", str(supervisor)])
            for _ in range(50):
                if not await self._running(host, supervisor) and not await self._running(host, child):
                    break
                await asyncio.sleep(0.1)
            assert not await self._running(host, supervisor)
            assert not await self._running(host, child)
        finally:
            await host.close()

    async def _running(self, host: RemoteHost, pid: int) -> bool:
        """Whether ``pid`` still runs: an exited process its parent has not yet reaped (state Z) does not."""
        stat = await host.run(["cat", f"/proc/{pid}/stat"], check=False)
        if stat.exit_status != 0:
            return False
        return stat.stdout.rpartition(")")[2].split()[0] != "Z"

    async def _read_pid(self, host: RemoteHost, path: str) -> int:
        for _ in range(50):
            raw = await host.run(["cat", path], check=False)
            if raw.exit_status == 0 and raw.stdout.strip().isdigit():
                return int(raw.stdout.strip())
            await asyncio.sleep(0.1)
        raise AssertionError(f"no pid in {path}")

    async def test_the_host_key_is_recorded_on_first_use_and_a_changed_one_refused(self) -> None:
        connector = self.connector()
        await (await connector.connect(self.address, self.port)).close()
        await (await connector.connect(self.address, self.port)).close()
        self.forge_recorded_key(connector)
        with pytest.raises(HostKeyChanged):
            await connector.connect(self.address, self.port)

    async def test_a_forgotten_address_is_trusted_anew_on_its_next_connection(self) -> None:
        connector = self.connector()
        await (await connector.connect(self.address, self.port)).close()
        self.forge_recorded_key(connector)  # the key a former VM at this address had
        with pytest.raises(HostKeyChanged):
            await connector.connect(self.address, self.port)
        assert await connector.forget(self.address) == 1  # that VM was deregistered
        await (await connector.connect(self.address, self.port)).close()  # the new VM's key is pinned
        self.forge_recorded_key(connector)
        with pytest.raises(HostKeyChanged):  # and held to from then on
            await connector.connect(self.address, self.port)
        assert await connector.forget(self.address) == 1
        assert await connector.forget(self.address) == 0

    async def test_strict_mode_refuses_an_unrecorded_host(self) -> None:
        with pytest.raises(HostKeyUnknown):
            await self.connector(strict=True).connect(self.address, self.port)

    async def test_a_wrong_key_is_an_authentication_error(self) -> None:
        with pytest.raises(AuthenticationFailed):
            await self.connector(wrong_key=True).connect(self.address, self.port)

    async def test_a_closed_port_is_unreachable(self) -> None:
        with pytest.raises(HostUnreachable):
            await self.connector().connect(self.address, self.closed_port)

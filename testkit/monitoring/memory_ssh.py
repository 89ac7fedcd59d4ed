"""In-memory VMs behind the SSH ports (``HostConnector`` / ``RemoteHost``), with real state.

A ``FakeVm`` keeps files (with modes), directories, processes, systemd units, its host key,
host name and authorized keys. It answers the argv commands the agent installer uses, the way
coreutils, procps, util-linux's ``setsid`` and ``systemctl`` answer them (exit statuses and
all), and starts programs the two ways vmscale starts them: a unit's ``ExecStart`` and
vmscale's supervisor script (its pid-file and argv lines). A process "listens" on a port its
argv mentions, or a ``listen`` line of a config file its argv names, and only while its
program file exists and is executable. The connector raises the same classified errors as the asyncssh adapter and
records host keys on first use. Both run the contract suite ``tests/contracts/monitoring_ssh.py``.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import re
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from services.monitoring.errors import (
    AuthenticationFailed,
    HostKeyChanged,
    HostKeyUnknown,
    HostUnreachable,
    RemoteCommandFailed,
    SshTimeout,
)
from services.monitoring.ports import CommandResult
from testkit.monitoring.memory_ssh_commands import FakeShell

__all__ = ["FakeProcess", "FakeVm", "MemoryConnector", "MemoryHost"]

_pids = itertools.count(1000)


@dataclass
class FakeProcess:
    """A running program: its argv and who started it (``unit:<name>`` or ``script:<path>``)."""

    pid: int
    argv: list[str]
    owner: str
    child_of: int | None = None


@dataclass
class FakeVm:
    """One VM's state."""

    address: str
    hostname: str = "vm"
    host_key: str = "ssh-ed25519 host-key-1"
    authorized: set[str] = field(default_factory=lambda: {"lab-key"})
    ssh_port: int = 22
    systemd: bool = False
    sudo: bool = True
    hang: bool = False
    """Scripted: connecting times out."""
    latency_s: float = 0.0
    """Each command takes this long (and yields to other tasks), as a network round trip does."""
    files: dict[str, bytes] = field(default_factory=dict)
    modes: dict[str, int] = field(default_factory=dict)
    dirs: set[str] = field(default_factory=lambda: {"/", "/tmp", "/bin", "/usr", "/usr/bin"})  # noqa: S108
    processes: dict[int, FakeProcess] = field(default_factory=dict)
    units: dict[str, list[str]] = field(default_factory=dict)
    """Loaded units (after ``daemon-reload``): name → ExecStart argv."""
    enabled: set[str] = field(default_factory=set)
    commands: list[list[str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.systemd:
            self.mkdirs("/run/systemd/system")
        for program in ("/bin/sh", "/bin/sleep", "/usr/bin/java"):
            self.files.setdefault(program, b"\x7fELF")
            self.modes.setdefault(program, 0o755)

    # -- files --------------------------------------------------------------------------------

    def mkdirs(self, path: str) -> None:
        """``mkdir -p``."""
        p = PurePosixPath(path)
        for part in [p, *p.parents]:
            self.dirs.add(str(part))

    def exists(self, path: str) -> bool:
        """A file or directory is at ``path``."""
        return path in self.files or path in self.dirs

    def executable(self, path: str) -> bool:
        """``path`` is a file with an execute bit."""
        return path in self.files and bool(self.modes.get(path, 0) & 0o111)

    def write(self, path: str, data: bytes, mode: int = 0o644) -> None:
        """Write a file whose directory exists (``FileNotFoundError`` otherwise, as SFTP)."""
        if str(PurePosixPath(path).parent) not in self.dirs or path in self.dirs:
            raise FileNotFoundError(path)
        self.files[path] = bytes(data)
        self.modes[path] = mode

    def remove_tree(self, path: str) -> None:
        """``rm -rf``."""
        prefix = path.rstrip("/") + "/"
        for name in [f for f in self.files if f == path or f.startswith(prefix)]:
            del self.files[name]
            self.modes.pop(name, None)
        self.dirs -= {d for d in self.dirs if d == path or d.startswith(prefix)}

    def sha256(self, path: str) -> str:
        """The hex digest of a file."""
        return hashlib.sha256(self.files[path]).hexdigest()

    # -- processes ----------------------------------------------------------------------------

    def spawn(self, argv: list[str], owner: str, child_of: int | None = None) -> FakeProcess:
        """Start a process; it stays in the table even if its program is missing (it then
        listens on nothing, as a crash-looping program would)."""
        process = FakeProcess(next(_pids), list(argv), owner, child_of)
        self.processes[process.pid] = process
        return process

    def kill(self, pid: int) -> bool:
        """SIGTERM: a supervisor takes its child along; a supervised child is restarted."""
        process = self.processes.pop(pid, None)
        if process is None:
            return False
        for child in [p for p in self.processes.values() if p.child_of == pid]:
            self.processes.pop(child.pid, None)
        parent = self.processes.get(process.child_of) if process.child_of else None
        if parent is not None and parent.owner.startswith("script:"):
            self.run_supervisor(parent.owner.removeprefix("script:"), restart_of=parent)
        return True

    def _program(self, argv: list[str]) -> str:
        if len(argv) >= 3 and argv[1] == "-jar":
            return argv[2] if self.executable(argv[0]) and argv[2] in self.files else ""
        return argv[0] if argv and self.executable(argv[0]) else ""

    def listening(self, port: int) -> bool:
        """Some running program mentions ``port`` in its argv or in a config file it names."""
        token = re.compile(rf"(?<![0-9]){port}(?![0-9])")
        for process in self.processes.values():
            if process.owner.startswith("script:") or not self._program(process.argv):
                continue
            texts = [" ".join(process.argv[1:])]
            for arg in process.argv[1:]:
                ref = arg.split("=", 1)[-1]
                if ref in self.files:  # a config file: only its listen settings count
                    lines = self.files[ref].decode(errors="replace").splitlines()
                    texts.extend(line for line in lines if "listen" in line)
            if any(token.search(text) for text in texts):
                return True
        return False

    def run_supervisor(self, script: str, restart_of: FakeProcess | None = None) -> bool:
        """Run vmscale's supervisor script: write its pid, start the argv line, write the child's pid."""
        if not self.executable(script):
            return False
        lines = [shlex.split(line) for line in self.files[script].decode().splitlines() if line.strip()]
        pid_files = {words[1]: words[3] for words in lines if len(words) == 4 and words[:1] == ["echo"]}
        argv = next((words[:-1] for words in lines if words[-1:] == ["&"]), [])
        supervisor = restart_of or self.spawn(["/bin/sh", script], f"script:{script}")
        child = self.spawn(argv, "child", child_of=supervisor.pid)
        for variable, pid in (("$$", supervisor.pid), ("$child", child.pid)):
            if variable in pid_files and str(PurePosixPath(pid_files[variable]).parent) in self.dirs:
                self.files[pid_files[variable]] = f"{pid}\n".encode()
        return True


class MemoryHost:
    """``RemoteHost`` on a ``FakeVm``."""

    def __init__(self, vm: FakeVm, sudo: bool, on_close: Callable[[], None] = lambda: None) -> None:
        self.vm = vm
        self._shell = FakeShell(vm)
        self._sudo = sudo
        self._on_close = on_close
        self.closed = False

    async def run(self, argv: Sequence[str], *, stdin: str | None = None, check: bool = True) -> CommandResult:
        """See ``RemoteHost.run``."""
        if self.closed:
            raise HostUnreachable("SSH connection lost", host=self.vm.address, error="ConnectionLost")
        await asyncio.sleep(self.vm.latency_s)
        self.vm.commands.append(list(argv))
        out = self._shell.run(list(argv), stdin or "")
        if check and out.exit_status != 0:
            raise RemoteCommandFailed(
                "remote command failed",
                host=self.vm.address,
                command=argv[0],
                exit_status=out.exit_status,
                stderr=out.stderr[-500:],
            )
        return out

    async def put(self, data: bytes, path: str, mode: int = 0o644) -> None:
        """See ``RemoteHost.put``; with sudo the file is staged in /tmp, ``sudo install``ed beside
        the target and renamed onto it."""
        if self.closed:
            raise HostUnreachable("SSH connection lost", host=self.vm.address, error="ConnectionLost")
        target = path if not self._sudo else f"/tmp/vmscale-{next(_pids)}"  # noqa: S108 - fake VM path
        try:
            self.vm.write(target, data, mode if not self._sudo else 0o600)
        except FileNotFoundError as exc:
            raise RemoteCommandFailed(
                "SFTP write failed", host=self.vm.address, path=path, error="no such file"
            ) from exc
        if self._sudo:  # as the real adapter: install beside the target, then rename onto it
            beside = str(PurePosixPath(path).with_name(f".{PurePosixPath(path).name}.vmscale-{next(_pids)}"))
            try:
                await self.run(["sudo", "-n", "install", "-m", f"{mode:o}", target, beside])
                await self.run(["sudo", "-n", "mv", "-f", "-T", beside, path])
            finally:
                await self.run(["rm", "-f", target, beside], check=False)

    async def close(self) -> None:
        """Close (idempotent)."""
        if not self.closed:
            self.closed = True
            self._on_close()


class MemoryConnector:
    """``HostConnector`` over a set of ``FakeVm``s, with its own recorded host keys."""

    def __init__(
        self, vms: Sequence[FakeVm], *, key: str = "lab-key", strict: bool = False, port: int = 22, sudo: bool = False
    ) -> None:
        self.vms = {vm.address: vm for vm in vms}
        self.key = key
        self.strict = strict
        self.port = port
        self.sudo = sudo
        self.known_hosts: dict[str, str] = {}
        self.connections = 0
        self.open = 0
        self.peak_open = 0
        """The most connections open at once (batches must stay within their bound)."""

    def _closed(self) -> None:
        self.open -= 1

    async def connect(self, host: str, port: int | None = None) -> MemoryHost:
        """See ``HostConnector.connect``."""
        port = port or self.port
        pattern = host if port == 22 else f"[{host}]:{port}"
        recorded = self.known_hosts.get(pattern)
        if recorded is None and self.strict:
            raise HostKeyUnknown("host key not recorded and strict host-key checking is on", host=pattern)
        vm = self.vms.get(host)
        if vm is None or vm.ssh_port != port:
            raise HostUnreachable("SSH connection failed", host=pattern, error="ConnectionRefusedError")
        if vm.hang:
            raise SshTimeout("SSH connection timed out", host=pattern)
        if recorded is not None and recorded != vm.host_key:
            raise HostKeyChanged("the host key differs from the recorded one", host=pattern)
        if self.key not in vm.authorized:
            raise AuthenticationFailed("the host refused the SSH key", host=pattern, user="fake")
        self.known_hosts.setdefault(pattern, vm.host_key)
        self.connections += 1
        self.open += 1
        self.peak_open = max(self.peak_open, self.open)
        return MemoryHost(vm, self.sudo, self._closed)

    async def forget(self, host: str) -> int:
        """See ``HostConnector.forget``."""
        gone = [p for p in self.known_hosts if p == host or p.startswith(f"[{host}]:")]
        for pattern in gone:
            del self.known_hosts[pattern]
        return len(gone)

    async def probe(self, address: str, port: int) -> bool:
        """Whether an agent answers on ``address:port`` (for ``AgentInstaller``)."""
        vm = self.vms.get(address)
        return vm is not None and vm.listening(port)

"""The lab runner: starts, checks and stops the local stand-ins for the outside world.

A lab *part* declares how it starts (an argv and environment, run as its own process group),
how readiness is checked (a TCP port, an HTTP URL, or a callable), and which files it needs
prepared first. Parts bind loopback only; their state and logs live under ``<lab_dir>/<part>/``;
they are stopped by the PID recorded in ``<lab_dir>/<part>/pid`` — never by process name.

Later issues register their parts in ``lab.parts``.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from shared.embedded import port_open

__all__ = ["Lab", "Part", "PartStatus", "stop_processes_under"]


@dataclass(frozen=True)
class Part:
    """One lab program.

    ``command`` receives the part's own directory and returns the argv; ``prepare`` (optional)
    writes configs into it first. Readiness: ``ready_port`` (TCP on ``host``), ``ready_url``
    (HTTP 2xx/3xx/4xx counts as up, the server answered) or ``ready`` (a callable).
    """

    name: str
    command: Callable[[Path], Sequence[str]]
    host: str = "127.0.0.1"
    ready_port: int | None = None
    ready_url: str | None = None
    ready: Callable[[], bool] | None = None
    prepare: Callable[[Path], None] | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    start_timeout_s: float = 30.0
    stop_timeout_s: float = 5.0
    cwd: Path | None = None
    cleanup: Callable[[Path], None] | None = None
    """Called with the part's directory after it stopped: ends what the part left running."""

    def __post_init__(self) -> None:
        if not self.host.startswith("127."):
            raise ValueError(f"lab part {self.name} must bind loopback, not {self.host}")

    def is_ready(self) -> bool:
        """True when the part answers its readiness check."""
        if self.ready is not None and not self.ready():
            return False
        if self.ready_port is not None and not port_open(self.host, self.ready_port):
            return False
        if self.ready_url is not None:
            try:
                with urllib.request.urlopen(self.ready_url, timeout=1.0):  # noqa: S310 - loopback only
                    pass
            except urllib.error.HTTPError as exc:
                return exc.code < 500
            except OSError:
                return False
        return True


@dataclass(frozen=True)
class PartStatus:
    """What ``lab status`` reports for one part."""

    name: str
    pid: int | None
    running: bool
    ready: bool
    log: Path


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text().split()
        if len(stat) > 2 and stat[2] == "Z":
            return False
    return True


def stop_processes_under(root: Path, timeout: float = 5.0) -> list[int]:
    """SIGTERM (then SIGKILL) every process whose command line names a path under ``root``.

    For what a lab part's clients started inside the lab's own tree (the agents vmscale installs
    over SSH into the lab's VM root). Processes are found by their command line and ended by PID;
    a path outside the lab directory is never matched. Returns the PIDs signalled.
    """
    marker = str(root.resolve())
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(arg.decode(errors="replace").startswith(marker) for arg in argv if arg):
            found.append(int(entry.name))
    for pid in found:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while any(_alive(pid) for pid in found) and time.monotonic() < deadline:
        time.sleep(0.05)
    for pid in found:
        if _alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    return found


class Lab:
    """A set of parts under one lab directory."""

    def __init__(self, lab_dir: Path, parts: Sequence[Part]) -> None:
        self.lab_dir = lab_dir
        self.parts = list(parts)
        names = [part.name for part in self.parts]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate lab part names: {names}")

    def part_dir(self, part: Part) -> Path:
        """Where a part keeps its state, pid and log."""
        return self.lab_dir / part.name

    def _pid_file(self, part: Part) -> Path:
        return self.part_dir(part) / "pid"

    def pid(self, part: Part) -> int | None:
        """The recorded PID of a running part, or None."""
        try:
            pid = int(self._pid_file(part).read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if _alive(pid) else None

    def start(self, part: Part) -> int:
        """Start ``part`` (unless it already runs) and wait until it is ready; return its PID."""
        running = self.pid(part)
        if running is not None:
            return running
        directory = self.part_dir(part)
        directory.mkdir(parents=True, exist_ok=True)
        if part.prepare is not None:
            part.prepare(directory)
        argv = list(part.command(directory))
        env = {**os.environ, **part.env}
        with (directory / "log").open("ab") as log:
            process = subprocess.Popen(
                argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=part.cwd or directory,
                env=env,
                start_new_session=True,
            )
        self._pid_file(part).write_text(str(process.pid))
        (directory / "argv.json").write_text(json.dumps(argv))
        deadline = time.monotonic() + part.start_timeout_s
        while time.monotonic() < deadline:
            if process.poll() is not None:
                self._pid_file(part).unlink(missing_ok=True)
                tail = (directory / "log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"lab part {part.name} exited with {process.returncode}:\n{tail}")
            if part.is_ready():
                return process.pid
            time.sleep(0.1)
        self.stop(part)
        raise TimeoutError(f"lab part {part.name} not ready within {part.start_timeout_s} s")

    def stop(self, part: Part) -> None:
        """SIGTERM the part's process group, SIGKILL after its timeout; forget its PID."""
        pid = self.pid(part)
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGTERM)
            deadline = time.monotonic() + part.stop_timeout_s
            while _alive(pid) and time.monotonic() < deadline:
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, os.WNOHANG)
                time.sleep(0.05)
            if _alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
        self._pid_file(part).unlink(missing_ok=True)
        if part.cleanup is not None:
            part.cleanup(self.part_dir(part))

    def up(self, only: Sequence[str] | None = None) -> dict[str, int]:
        """Start every part (or those named), in order; on failure stop what was started."""
        started: dict[str, int] = {}
        try:
            for part in self.parts:
                if only and part.name not in only:
                    continue
                started[part.name] = self.start(part)
        except BaseException:
            self.down()
            raise
        return started

    def down(self) -> None:
        """Stop every part, in reverse order."""
        for part in reversed(self.parts):
            self.stop(part)

    def status(self) -> list[PartStatus]:
        """Each part's PID, liveness and readiness."""
        out = []
        for part in self.parts:
            pid = self.pid(part)
            out.append(
                PartStatus(
                    name=part.name,
                    pid=pid,
                    running=pid is not None,
                    ready=pid is not None and part.is_ready(),
                    log=self.part_dir(part) / "log",
                )
            )
        return out

"""The commands a ``FakeVm`` answers, with the exit statuses and messages of the real tools.

``test``, ``cat``, ``echo``, ``mkdir -p``, ``rm -f|-rf``, ``sha256sum``, ``uname -n``,
``kill -0|-TERM``, ``setsid -f``, ``sudo -n install``, ``true``/``false`` and ``systemctl``
(daemon-reload, enable, disable [--now], start, stop, restart, is-active/is-enabled --quiet).
Anything else is "not found" (127), as from a shell.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from services.monitoring.ports import CommandResult

if TYPE_CHECKING:
    from testkit.monitoring.memory_ssh import FakeVm

__all__ = ["FakeShell"]

UNIT_DIR = "/etc/systemd/system"


def _ok(stdout: str = "") -> CommandResult:
    return CommandResult(0, stdout, "")


def _fail(status: int, stderr: str) -> CommandResult:
    return CommandResult(status, "", stderr + "\n")


class FakeShell:
    """Runs one argv on a ``FakeVm``."""

    def __init__(self, vm: FakeVm) -> None:
        self.vm = vm
        self._table: dict[str, Callable[[list[str], str], CommandResult]] = {
            "test": self._test,
            "cat": self._cat,
            "echo": lambda args, _in: _ok(" ".join(args) + "\n"),
            "true": lambda _a, _in: _ok(),
            "false": lambda _a, _in: CommandResult(1, "", ""),
            "mkdir": self._mkdir,
            "mv": self._mv,
            "rm": self._rm,
            "sha256sum": self._sha256sum,
            "uname": lambda args, _in: _ok(self.vm.hostname + "\n") if args == ["-n"] else _ok("Linux\n"),
            "kill": self._kill,
            "setsid": self._setsid,
            "sudo": self._sudo,
            "systemctl": self._systemctl,
        }

    def run(self, argv: list[str], stdin: str) -> CommandResult:
        """The result of ``argv``."""
        if not argv:
            return _ok()
        handler = self._table.get(argv[0])
        if handler is None:
            return _fail(127, f"sh: 1: {argv[0]}: not found")
        return handler(argv[1:], stdin)

    def _test(self, args: list[str], _stdin: str) -> CommandResult:
        if len(args) != 2:
            return _fail(2, "test: bad arguments")
        flag, path = args
        checks = {
            "-e": self.vm.exists(path),
            "-f": path in self.vm.files,
            "-d": path in self.vm.dirs,
            "-x": self.vm.executable(path) or path in self.vm.dirs,
        }
        return CommandResult(0 if checks.get(flag, False) else 1, "", "")

    def _cat(self, args: list[str], stdin: str) -> CommandResult:
        if not args:
            return _ok(stdin)
        out = []
        for path in args:
            if path in self.vm.dirs:
                return _fail(1, f"cat: {path}: Is a directory")
            if path not in self.vm.files:
                return _fail(1, f"cat: {path}: No such file or directory")
            out.append(self.vm.files[path].decode(errors="replace"))
        return _ok("".join(out))

    def _mkdir(self, args: list[str], _stdin: str) -> CommandResult:
        for path in [a for a in args if not a.startswith("-")]:
            if path in self.vm.files:
                return _fail(1, f"mkdir: cannot create directory '{path}': File exists")
            if "-p" not in args and str(PurePosixPath(path).parent) not in self.vm.dirs:
                return _fail(1, f"mkdir: cannot create directory '{path}': No such file or directory")
            self.vm.mkdirs(path)
        return _ok()

    def _mv(self, args: list[str], _stdin: str) -> CommandResult:
        paths = [a for a in args if not a.startswith("-")]
        if "-T" not in args or len(paths) != 2:
            return _fail(1, "mv: only 'mv [-f] -T SOURCE DEST' is modelled")
        source, dest = paths
        if source not in self.vm.files:
            return _fail(1, f"mv: cannot stat '{source}': No such file or directory")
        if dest in self.vm.dirs:
            return _fail(1, f"mv: cannot overwrite directory '{dest}'")
        mode = self.vm.modes.get(source, 0o644)
        self.vm.write(dest, self.vm.files[source], mode)
        self.vm.remove_tree(source)
        return _ok()

    def _rm(self, args: list[str], _stdin: str) -> CommandResult:
        flags = "".join(a[1:] for a in args if a.startswith("-"))
        for path in [a for a in args if not a.startswith("-")]:
            if path in self.vm.dirs:
                if "r" not in flags:
                    return _fail(1, f"rm: cannot remove '{path}': Is a directory")
                self.vm.remove_tree(path)
            elif path in self.vm.files:
                self.vm.remove_tree(path)
            elif "f" not in flags:
                return _fail(1, f"rm: cannot remove '{path}': No such file or directory")
        return _ok()

    def _sha256sum(self, args: list[str], _stdin: str) -> CommandResult:
        lines = []
        for path in args:
            if path not in self.vm.files:
                return _fail(1, f"sha256sum: {path}: No such file or directory")
            lines.append(f"{self.vm.sha256(path)}  {path}\n")
        return _ok("".join(lines))

    def _kill(self, args: list[str], _stdin: str) -> CommandResult:
        signal, pids = (args[0], args[1:]) if args and args[0].startswith("-") else ("-TERM", args)
        status = 0
        for raw in pids:
            pid = int(raw) if raw.isdigit() else -1
            if pid not in self.vm.processes:
                return _fail(1, f"kill: ({raw}) - No such process")
            if signal != "-0":
                self.vm.kill(pid)
        return CommandResult(status, "", "")

    def _setsid(self, args: list[str], _stdin: str) -> CommandResult:
        program = [a for a in args if a != "-f"]
        if not program:
            return _fail(1, "setsid: no command specified")
        if not self.vm.exists(program[0]):
            return _fail(1, f"setsid: failed to execute {program[0]}: No such file or directory")
        if not self.vm.run_supervisor(program[0]):
            return _fail(1, f"setsid: failed to execute {program[0]}: Permission denied")
        return _ok()

    def _sudo(self, args: list[str], _stdin: str) -> CommandResult:
        if not self.vm.sudo:
            return _fail(1, "sudo: a password is required")
        rest = [a for a in args if a != "-n"]
        if rest[:1] != ["install"] or len(rest) != 5 or rest[1] != "-m":
            return self.run(rest, _stdin)
        mode, source, target = int(rest[2], 8), rest[3], rest[4]
        if source not in self.vm.files:
            return _fail(1, f"install: cannot stat '{source}': No such file or directory")
        try:
            self.vm.write(target, self.vm.files[source], mode)
        except FileNotFoundError:
            return _fail(1, f"install: cannot create regular file '{target}': No such file or directory")
        return _ok()

    # -- systemctl ----------------------------------------------------------------------------

    def _unit_file(self, name: str) -> str:
        return f"{UNIT_DIR}/{name}.service"

    def _exec_start(self, name: str) -> list[str] | None:
        data = self.vm.files.get(self._unit_file(name))
        if data is None:
            return None
        line = next((ln for ln in data.decode().splitlines() if ln.startswith("ExecStart=")), "")
        return shlex.split(line.removeprefix("ExecStart=")) if line else []

    def _unit_pid(self, name: str) -> int | None:
        return next((p.pid for p in self.vm.processes.values() if p.owner == f"unit:{name}"), None)

    def _systemctl(self, args: list[str], _stdin: str) -> CommandResult:
        if "/run/systemd/system" not in self.vm.dirs:
            return _fail(1, "System has not been booted with systemd as init system (PID 1). Can't operate.")
        words = [a for a in args if not a.startswith("-")]
        verb, names = (words[0], [n.removesuffix(".service") for n in words[1:]]) if words else ("", [])
        quiet = "--quiet" in args
        if verb == "daemon-reload":
            on_disk = [PurePosixPath(f) for f in self.vm.files]
            names_on_disk = [f.stem for f in on_disk if str(f.parent) == UNIT_DIR and f.suffix == ".service"]
            self.vm.units = {n: self._exec_start(n) or [] for n in names_on_disk}
            return _ok()
        for name in names:
            known = name in self.vm.units or self._unit_file(name) in self.vm.files
            if verb == "is-active":
                active = self._unit_pid(name) is not None
                return CommandResult(0 if active else 3, "" if quiet else ("active\n" if active else "inactive\n"), "")
            if verb == "is-enabled":
                on = name in self.vm.enabled
                return CommandResult(0 if on else 1, "" if quiet else ("enabled\n" if on else "disabled\n"), "")
            if verb in ("enable", "disable") and not known:
                return _fail(1, f"Failed to {verb} unit: Unit file {name}.service does not exist.")
            if verb in ("start", "restart") and name not in self.vm.units:
                return _fail(5, f"Failed to {verb} {name}.service: Unit {name}.service not found.")
            if verb == "enable":
                self.vm.enabled.add(name)
            if verb == "disable":
                self.vm.enabled.discard(name)
            if verb in ("stop", "restart") or (verb == "disable" and "--now" in args):
                pid = self._unit_pid(name)
                if pid is not None:
                    self.vm.kill(pid)
            if verb in ("start", "restart") and self._unit_pid(name) is None:
                argv = self.vm.units[name]
                if argv and self.vm.exists(argv[0]):
                    self.vm.spawn(argv, f"unit:{name}")
            if verb not in ("enable", "disable", "start", "stop", "restart"):
                return _fail(1, f"Unknown command verb {verb}.")
        return _ok()

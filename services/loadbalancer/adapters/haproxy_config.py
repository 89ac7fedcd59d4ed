"""HAProxy's configuration file as vmscale reads and writes it.

Runtime ``add server`` is not persisted across a reload, so every server vmscale adds is also
written between two marker comments inside its backend section::

    backend web
        ...
        # vmscale:dynamic-servers:begin
        server vm-1 127.0.10.5:8080 check inter 2s rise 2 fall 3
        # vmscale:dynamic-servers:end

A backend without markers gets them appended at the end of its section. Writes are atomic
(temporary file + rename). Frontends (``bind`` + ``default_backend``) are read from the same
file, since the runtime API does not report bind addresses.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from shared.errors import ConfigurationError

__all__ = ["BEGIN", "END", "ConfigFile", "Frontend", "PersistedServer"]

BEGIN = "# vmscale:dynamic-servers:begin"
END = "# vmscale:dynamic-servers:end"
_SECTION = re.compile(r"^(global|defaults|frontend|backend|listen|userlist|peers|resolvers|program|cache|ring)\b")


@dataclass(frozen=True)
class PersistedServer:
    """A server line vmscale owns."""

    name: str
    address: str
    port: int
    options: str
    disabled: bool = False

    def line(self) -> str:
        """The configuration line (``disabled`` starts it in maintenance after a reload)."""
        tail = " disabled" if self.disabled else ""
        return f"    server {self.name} {self.address}:{self.port} {self.options}{tail}".rstrip()


@dataclass(frozen=True)
class Frontend:
    """A frontend (or listen section) with its first bind and its default backend."""

    name: str
    address: str
    port: int
    backend: str | None


class ConfigFile:
    """Reads frontends and rewrites vmscale's server blocks of one configuration file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _lines(self) -> list[str]:
        try:
            return self.path.read_text().splitlines()
        except OSError as exc:
            raise ConfigurationError(f"cannot read HAProxy configuration: {exc.strerror}", path=str(self.path)) from exc

    def frontends(self) -> list[Frontend]:
        """Every frontend/listen section that binds an address."""
        found: list[Frontend] = []
        kind = name = None
        bind: tuple[str, int] | None = None
        backend: str | None = None

        def close() -> None:
            if kind in ("frontend", "listen") and name and bind:
                found.append(Frontend(name, bind[0], bind[1], name if kind == "listen" else backend))

        for raw in self._lines():
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            if _SECTION.match(raw):
                close()
                words = line.split()
                kind, name, bind, backend = words[0], (words[1] if len(words) > 1 else None), None, None
            elif line.startswith("bind ") and bind is None:
                target = line.split()[1]
                host, _, port = target.rpartition(":")
                if port.isdigit():
                    bind = (host.removeprefix("ipv4@") or "0.0.0.0", int(port))
            elif line.startswith("default_backend "):
                backend = line.split()[1]
        close()
        return found

    def servers(self, backend: str) -> list[PersistedServer]:
        """The servers in ``backend``'s vmscale block."""
        lines = self._lines()
        start, end = self._block(lines, backend)
        out = []
        for line in lines[start + 1 : end] if start >= 0 else []:
            words = line.split()
            if len(words) >= 3 and words[0] == "server":
                host, _, port = words[2].rpartition(":")
                disabled = words[-1] == "disabled"
                options = " ".join(words[3:-1] if disabled else words[3:])
                out.append(PersistedServer(words[1], host, int(port), options, disabled))
        return out

    def write_servers(self, backend: str, servers: list[PersistedServer]) -> None:
        """Replace ``backend``'s vmscale block with ``servers`` (atomically)."""
        lines = self._lines()
        start, end = self._block(lines, backend)
        block = ["    " + BEGIN, *(server.line() for server in servers), "    " + END]
        if start >= 0:
            lines[start : end + 1] = block
        else:
            lines[self._section_end(lines, backend) : self._section_end(lines, backend)] = block
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".haproxy-", suffix=".cfg")
        try:
            with os.fdopen(fd, "w") as out:
                out.write("\n".join(lines) + "\n")
            os.chmod(tmp, self.path.stat().st_mode & 0o777)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def _section_start(self, lines: list[str], backend: str) -> int:
        for index, raw in enumerate(lines):
            words = raw.split()
            if len(words) >= 2 and words[0] in ("backend", "listen") and words[1] == backend:
                return index
        raise ConfigurationError(f"backend {backend} is not in {self.path.name}", pool=backend)

    def _section_end(self, lines: list[str], backend: str) -> int:
        index = self._section_start(lines, backend) + 1
        while index < len(lines) and not _SECTION.match(lines[index]):
            index += 1
        while index > 0 and not lines[index - 1].strip():
            index -= 1
        return index

    def _block(self, lines: list[str], backend: str) -> tuple[int, int]:
        start = self._section_start(lines, backend)
        stop = self._section_end(lines, backend)
        begin = next((i for i in range(start, stop) if lines[i].strip() == BEGIN), -1)
        end = next((i for i in range(max(begin, start), stop) if lines[i].strip() == END), -1)
        if begin >= 0 and end > begin:
            return begin, end
        return -1, -1

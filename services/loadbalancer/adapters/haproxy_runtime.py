"""A client of HAProxy's runtime API (the stats socket at ``level admin``).

One connection per command (non-interactive mode): send the line, read until HAProxy closes.
Answers are free text; ``RuntimeAnswer`` errors known from HAProxy 2.6 are translated into
our exception tree here, so nothing else parses HAProxy's wording.
"""

from __future__ import annotations

import asyncio
import csv
import io
from dataclasses import dataclass
from pathlib import Path

from shared.errors import (
    ConfigurationError,
    Conflict,
    InvalidInput,
    NotFound,
    OperationTimeout,
    ServiceUnavailable,
    Unauthorized,
)

__all__ = ["RuntimeClient", "ServerRow", "parse_servers_state", "parse_stat"]

_ERRORS: tuple[tuple[str, type[Exception]], ...] = (
    ("No such backend", ConfigurationError),
    ("Can't find backend", ConfigurationError),
    ("No such server", NotFound),
    ("Already exists a server with the same name", Conflict),
    ("Only servers in maintenance mode can be deleted", Conflict),
    ("still has connections attached", Conflict),
    ("Permission denied", Unauthorized),
    ("Unknown command", InvalidInput),
    ("Backend must use a dynamic load balancing", ConfigurationError),
    ("Require 'backend/server'", InvalidInput),
)


@dataclass(frozen=True)
class ServerRow:
    """One server as ``show servers state`` and ``show stat`` describe it together."""

    name: str
    address: str
    port: int
    op_state: int
    admin_state: int
    status: str
    check_status: str
    sessions: int


class RuntimeClient:
    """Sends runtime API commands to ``endpoint``: a unix socket path or ``tcp://127.0.0.1:port``."""

    def __init__(self, endpoint: str, timeout: float = 5.0) -> None:
        self.endpoint = endpoint
        self.timeout = timeout
        if endpoint.startswith("tcp://"):
            host, _, port = endpoint.removeprefix("tcp://").rpartition(":")
            if not host.startswith("127.") and host != "localhost":
                raise ConfigurationError("the HAProxy runtime API must be on loopback", endpoint=endpoint)
            self._tcp: tuple[str, int] | None = (host, int(port))
        else:
            self._tcp = None

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._tcp is not None:
            return await asyncio.open_connection(*self._tcp)
        return await asyncio.open_unix_connection(str(Path(self.endpoint)))

    async def raw(self, command: str) -> str:
        """Send one command line and return HAProxy's whole answer, unchecked."""
        if "\n" in command or ";" in command:
            raise InvalidInput("one runtime command at a time", command=command)
        try:
            async with asyncio.timeout(self.timeout):
                reader, writer = await self._open()
                try:
                    writer.write(command.encode() + b"\n")
                    await writer.drain()
                    data = await reader.read()
                finally:
                    writer.close()
        except TimeoutError as exc:
            raise OperationTimeout("HAProxy runtime API timed out", command=command.split()[0]) from exc
        except OSError as exc:
            raise ServiceUnavailable(
                f"HAProxy runtime API unreachable: {exc.strerror or exc}", endpoint=self.endpoint
            ) from exc
        return data.decode(errors="replace")

    async def run(self, command: str, **details: str) -> str:
        """Send ``command``; raise the matching error when HAProxy's answer is a known failure."""
        answer = await self.raw(command)
        for needle, error in _ERRORS:
            if needle in answer:
                raise error(answer.strip().splitlines()[-1], **details)
        return answer

    async def servers(self, backend: str) -> list[ServerRow]:
        """Every server of ``backend`` with admin/operational state, check status and sessions."""
        state = parse_servers_state(await self.run(f"show servers state {backend}", pool=backend))
        stats = {row["svname"]: row for row in parse_stat(await self.run(f"show stat {backend} 4 -1"))}
        rows = []
        for fields in state:
            stat = stats.get(fields["srv_name"], {})
            rows.append(
                ServerRow(
                    name=fields["srv_name"],
                    address=fields["srv_addr"],
                    port=int(fields["srv_port"]),
                    op_state=int(fields["srv_op_state"]),
                    admin_state=int(fields["srv_admin_state"]),
                    status=stat.get("status", ""),
                    check_status=stat.get("check_status", ""),
                    sessions=int(stat.get("scur") or 0),
                )
            )
        return rows

    async def backends(self) -> list[str]:
        """The names of every backend."""
        answer = await self.run("show backend")
        return [line.strip() for line in answer.splitlines() if line.strip() and not line.startswith("#")]


def parse_servers_state(answer: str) -> list[dict[str, str]]:
    """Rows of ``show servers state`` as dictionaries keyed by the header's field names."""
    header: list[str] = []
    rows = []
    for line in answer.splitlines():
        if line.startswith("# "):
            header = line[2:].split()
        elif header and line.strip() and not line.strip().isdigit():
            rows.append(dict(zip(header, line.split(), strict=False)))
    if not header:
        raise ConfigurationError(f"unexpected answer from HAProxy: {answer.strip()[:120]}")
    return rows


def parse_stat(answer: str) -> list[dict[str, str]]:
    """Rows of ``show stat`` (CSV whose header line starts with ``# ``)."""
    text = answer.lstrip()
    if not text.startswith("# "):
        return []
    return list(csv.DictReader(io.StringIO(text[2:])))

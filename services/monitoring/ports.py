"""The monitoring service's ports: one small Protocol per role, each with its contract.

Callers type against the narrowest port they use. Every implementation raises only the shared
error tree (``shared.errors``) and the SSH classes in ``services.monitoring.errors``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = [
    "AlertmanagerApi",
    "CommandResult",
    "ConfigChecker",
    "ConfigStore",
    "Dashboards",
    "Downloader",
    "HostConnector",
    "PrometheusApi",
    "RemoteHost",
]


class ConfigStore(Protocol):
    """A directory of configuration files, here or on the PLG host."""

    async def read(self, name: str) -> bytes | None:
        """The file's bytes, or ``None`` when it does not exist. Raises ``ServiceUnavailable``."""
        ...

    async def write(self, name: str, data: bytes) -> None:
        """Atomically replace the file: write a temp file in the same directory, then rename.

        Readers see the old or the new content, never a mix. Keeps a bounded number of
        backups when the store is configured to. Idempotent. Raises ``ServiceUnavailable``.
        """
        ...

    async def delete(self, name: str) -> bool:
        """Remove the file; ``False`` when it did not exist. Raises ``ServiceUnavailable``."""
        ...

    async def names(self, suffix: str = "") -> list[str]:
        """File names in the directory ending with ``suffix``, sorted (temp files excluded)."""
        ...


class ConfigChecker(Protocol):
    """Offline validation with the vendors' own tools, before anything is installed."""

    async def check_rules(self, text: str) -> None:
        """Return when ``promtool check rules`` accepts ``text``; else ``InvalidInput`` with its output."""
        ...

    async def check_alertmanager(self, text: str) -> None:
        """Return when ``amtool check-config`` accepts ``text``; else ``InvalidInput`` with its output."""
        ...


class PrometheusApi(Protocol):
    """Prometheus' lifecycle and read APIs."""

    async def ping(self) -> None:
        """One round trip to Prometheus. Raises ``ServiceUnavailable``, ``OperationTimeout``."""
        ...

    async def reload(self) -> None:
        """``POST /-/reload``; blocks until Prometheus answered.

        Raises ``ConfigurationError`` when Prometheus rejects the files (it keeps the old ones),
        ``ServiceUnavailable`` / ``OperationTimeout`` when it cannot be reached.
        """
        ...

    async def targets(self) -> list[dict[str, Any]]:
        """``activeTargets`` of ``/api/v1/targets`` (labels, scrapeUrl, health, lastError...)."""
        ...

    async def rule_groups(self) -> list[dict[str, Any]]:
        """``groups`` of ``/api/v1/rules`` (name, file, rules with state and alerts)."""
        ...

    async def alerts(self) -> list[dict[str, Any]]:
        """``alerts`` of ``/api/v1/alerts`` (labels, annotations, state, activeAt, value)."""
        ...

    async def query_range(self, expr: str, start: float, end: float, step_s: int) -> list[dict[str, Any]]:
        """``/api/v1/query_range``: the matrix result (``metric`` labels, ``values`` pairs).

        Read-only; raises ``ServiceUnavailable`` when Prometheus is unreachable and
        ``InvalidInput`` for an expression it rejects.
        """
        ...


class AlertmanagerApi(Protocol):
    """Alertmanager's lifecycle, silences and alerts (API v2)."""

    async def ping(self) -> None:
        """One round trip to Alertmanager. Raises ``ServiceUnavailable``, ``OperationTimeout``."""
        ...

    async def reload(self) -> None:
        """``POST /-/reload``. Raises ``ConfigurationError`` when the new config is rejected."""
        ...

    async def silences(self) -> list[dict[str, Any]]:
        """Every silence (``id``, ``matchers``, ``startsAt``, ``endsAt``, ``createdBy``,
        ``comment``, ``status.state``)."""
        ...

    async def put_silence(self, silence: dict[str, Any]) -> str:
        """Create a silence, or update the one whose ``id`` is given; returns its id."""
        ...

    async def expire_silence(self, silence_id: str) -> bool:
        """Expire a silence; ``False`` when it does not exist or is already expired."""
        ...

    async def alerts(self) -> list[dict[str, Any]]:
        """Alerts Alertmanager holds (labels, annotations, status.state, receivers...)."""
        ...


class Dashboards(Protocol):
    """Grafana dashboards and annotations."""

    async def upsert(self, dashboard: dict[str, Any], folder_uid: str | None = None) -> str:
        """Create or replace the dashboard with ``dashboard['uid']``; returns its URL path.

        An existing dashboard stays in its folder unless ``folder_uid`` names another one.
        Idempotent. Raises ``Unauthorized``, ``Conflict`` (title taken by another uid),
        ``ServiceUnavailable``.
        """
        ...

    async def ping(self) -> None:
        """One authenticated round trip (the token is checked too). Raises ``Unauthorized``,
        ``ServiceUnavailable``."""
        ...

    async def delete(self, uid: str) -> bool:
        """Delete by uid; ``False`` when it did not exist."""
        ...

    async def listed(self) -> dict[str, tuple[str, str]]:
        """Every dashboard: uid → (title, URL path). Raises ``Unauthorized``, ``ServiceUnavailable``."""
        ...

    async def annotate(self, text: str, tags: Sequence[str], time_ms: int | None = None) -> int:
        """Add an organisation-wide annotation; returns its id."""
        ...


@dataclass(frozen=True)
class CommandResult:
    """What a remote command did."""

    exit_status: int
    stdout: str
    stderr: str


class RemoteHost(Protocol):
    """One open SSH connection to a VM."""

    async def run(self, argv: Sequence[str], *, stdin: str | None = None, check: bool = True) -> CommandResult:
        """Run ``argv`` (each element quoted; never a shell string built by the caller).

        With ``check`` a non-zero exit raises ``RemoteCommandFailed``. Raises ``SshTimeout``.
        """
        ...

    async def put(self, data: bytes, path: str, mode: int = 0o644) -> None:
        """Write ``data`` to ``path`` over SFTP via a temp name and a rename (atomic)."""
        ...

    async def close(self) -> None:
        """Close the connection (idempotent)."""
        ...


class HostConnector(Protocol):
    """Opens SSH connections with the configured user, key and host-key policy."""

    async def connect(self, host: str, port: int | None = None) -> RemoteHost:
        """A connected, authenticated host. The connectivity pre-check: raises
        ``HostUnreachable``, ``SshTimeout``, ``AuthenticationFailed``, ``HostKeyChanged`` or
        ``HostKeyUnknown``; on first use records the host key (unless strict)."""
        ...

    async def forget(self, host: str) -> int:
        """Drop every recorded host key of ``host`` (any port), so the next VM given that
        address is trusted on its first connection; how many were dropped. Idempotent; does not
        connect. Called when the VM behind the address is deregistered (scale-in, rollback)."""
        ...


class Downloader(Protocol):
    """Fetches agent artifacts from their configured URL (on vmscale's side, never on a VM)."""

    async def download(self, url: str, sha256: str) -> bytes:
        """The body of ``url`` (``http``/``https`` only), streamed; blocks until complete.

        Returns only once the body's SHA-256 equals ``sha256``. Raises ``InvalidInput`` for a
        non-http(s) URL or a body over the size limit (stopped as soon as it grows past it),
        ``ConfigurationError`` for a missing or mismatching checksum, ``ServiceUnavailable`` /
        ``OperationTimeout`` when the host fails or is slow. Idempotent (a plain GET).
        """
        ...

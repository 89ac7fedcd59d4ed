"""Prometheus targets and the file_sd documents that hold them (one JSON file per job).

Each target is its own target group, so its labels stay its own: ``job`` (so one scrape
config can watch every job file), ``instance`` = the bare IP (the original's label contract),
and the whitelisted ``service``, ``vmName``, ``environment``, ``group``. Nothing else is ever
written: internal fields (SSH user, key path) cannot leak into the TSDB (lesson 20).
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable, Mapping

from pydantic import BaseModel, ConfigDict, Field

from services.monitoring.domain.names import check_job
from shared.errors import InvalidInput

__all__ = ["ALLOWED_LABELS", "Target", "parse_job_file", "render_job_file", "target_groups"]

ALLOWED_LABELS = ("service", "vmName", "environment", "group")
"""Labels a caller may set on a target; ``job`` and ``instance`` are set by vmscale."""


class Target(BaseModel):
    """One scrape target of a job."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    job: str
    address: str
    port: int = Field(ge=1, le=65535)
    labels: dict[str, str] = Field(default_factory=dict)

    @property
    def key(self) -> str:
        """``address:port``, unique within a job."""
        return f"{self.address}:{self.port}"

    @property
    def vm_name(self) -> str | None:
        """The VM this target belongs to, when known."""
        return self.labels.get("vmName")

    @classmethod
    def build(
        cls, job: str, address: str, port: int, labels: Mapping[str, str], *, vm_name: str | None = None
    ) -> Target:
        """A validated target: job name checked, IP address checked, labels whitelisted.

        Raises ``InvalidInput`` for a bad address or a label outside ``ALLOWED_LABELS``.
        """
        check_job(job)
        try:
            ipaddress.ip_address(address)
        except ValueError as exc:
            raise InvalidInput("a target address must be an IP address", address=address) from exc
        unknown = sorted(set(labels) - set(ALLOWED_LABELS))
        if unknown:
            raise InvalidInput("labels outside the whitelist", labels=unknown, allowed=list(ALLOWED_LABELS))
        clean = {key: str(value) for key, value in labels.items() if value != ""}
        if vm_name:
            clean["vmName"] = vm_name
        clean.setdefault("service", job)
        return cls(job=job, address=address, port=port, labels=clean)


def target_groups(targets: Iterable[Target]) -> list[dict[str, object]]:
    """The file_sd / http_sd target groups of ``targets``, sorted by target."""
    groups: list[dict[str, object]] = []
    for target in sorted(targets, key=lambda t: (t.job, ipaddress.ip_address(t.address), t.port)):
        labels = {"job": target.job, "instance": target.address, **dict(sorted(target.labels.items()))}
        groups.append({"targets": [target.key], "labels": labels})
    return groups


def render_job_file(targets: Iterable[Target]) -> bytes:
    """The JSON file_sd document of one job."""
    return (json.dumps(target_groups(targets), indent=1) + "\n").encode()


def parse_job_file(job: str, data: bytes) -> list[Target]:
    """Read back a job file written by ``render_job_file`` (other labels are ignored).

    Raises ``InvalidInput`` when the document is not a list of target groups.
    """
    try:
        groups = json.loads(data or b"[]")
    except ValueError as exc:
        raise InvalidInput("job file is not JSON", job=job) from exc
    if not isinstance(groups, list):
        raise InvalidInput("job file is not a list of target groups", job=job)
    out: list[Target] = []
    for group in groups:
        labels = {k: v for k, v in (group.get("labels") or {}).items() if k in ALLOWED_LABELS}
        for entry in group.get("targets") or []:
            address, _, port = str(entry).rpartition(":")
            out.append(Target(job=job, address=address, port=int(port), labels=labels))
    return out

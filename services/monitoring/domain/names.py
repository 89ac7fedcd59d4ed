"""Names vmscale derives for Prometheus, Alertmanager and Grafana objects, validated strictly.

Group (service) names and job names end up in file names, PromQL matchers, Alertmanager
matchers and URLs, so they are checked against a narrow character set instead of quoted.
"""

from __future__ import annotations

import re

from shared.errors import Conflict, InvalidInput

__all__ = [
    "SYSTEM_JOBS",
    "alert_names",
    "check_group",
    "check_job",
    "dashboard_uid",
    "receiver_name",
    "rule_group_name",
]

SYSTEM_JOBS = frozenset({"prometheus", "alertmanager", "loki"})
"""Jobs of the monitoring stack itself: never listed, written or deleted by vmscale."""

_GROUP = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
_JOB = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_:-]{0,127}$")


def check_group(group: str) -> str:
    """Return ``group`` if it is a valid scaling-group (service) name, else ``InvalidInput``."""
    if not _GROUP.match(group):
        raise InvalidInput("group names use letters, digits, '_', '.', '-' (max 63)", group=group)
    return group


def check_job(job: str, *, allow_system: bool = False) -> str:
    """Return ``job`` if it is a valid job name vmscale may manage.

    Raises ``InvalidInput`` for a malformed name, ``Conflict`` for a protected system job.
    """
    if not _JOB.match(job):
        raise InvalidInput("job names match [a-zA-Z_][a-zA-Z0-9_:-]*", job=job)
    if not allow_system and job.lower() in SYSTEM_JOBS:
        raise Conflict("system jobs are managed by the monitoring stack, not vmscale", job=job)
    return job


def alert_names(group: str) -> tuple[str, str]:
    """The original's alert names: ``(<group>_HighResourceUsage, <group>_LowResourceUsage)``."""
    return f"{group}_HighResourceUsage", f"{group}_LowResourceUsage"


def rule_group_name(group: str) -> str:
    """The Prometheus rule group of a scaling group: ``<group>-autoscale``."""
    return f"{group}-autoscale"


def receiver_name(template: str, group: str, direction: str) -> str:
    """An Alertmanager receiver name from ``template`` (``{service}``, ``{direction}``).

    The service part is lower-cased with spaces turned into ``-``, as the original did, so the
    default template gives ``jenkins-webhook-<svc>-out`` / ``-in``.
    """
    if direction not in ("out", "in"):
        raise InvalidInput("direction is 'out' or 'in'", direction=direction)
    return template.format(service=group.lower().replace(" ", "-"), direction=direction)


def dashboard_uid(job: str) -> str:
    """``dashboard-<job lower-cased, anything but [a-z0-9] turned into '-'>``, at most 40 chars."""
    return ("dashboard-" + re.sub(r"[^a-z0-9]", "-", job.lower()))[:40]


def jvm_dashboard_uid(job: str) -> str:
    """The JVM dashboard's uid: the infrastructure one's (at most 36 chars) with ``-jvm``."""
    return dashboard_uid(job)[:36] + "-jvm"

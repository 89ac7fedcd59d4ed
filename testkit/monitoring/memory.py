"""In-memory versions of every monitoring port, with real state and the same errors.

They run the same contract suites as the real adapters (``tests/contracts/monitoring_*``).
The SSH ports' fakes (``FakeVm``, ``MemoryConnector``) live in ``memory_ssh`` and are
re-exported here.
Failures can be scripted (``fail_next_reload``, ``reject``) to drive the unhappy paths.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import yaml

from services.monitoring.adapters.files import check_file_name
from services.monitoring.domain import parse_job_file
from shared.clock import Clock, SystemClock
from shared.errors import ConfigurationError, Conflict, InvalidInput
from testkit.monitoring.memory_ssh import FakeVm, MemoryConnector, MemoryHost

__all__ = [
    "FakeVm",
    "MemoryAlertmanager",
    "MemoryChecker",
    "MemoryConnector",
    "MemoryDashboards",
    "MemoryHost",
    "MemoryPrometheus",
    "MemoryStore",
]


class MemoryStore:
    """``ConfigStore`` as a dict; counts writes for the benchmarks."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.writes = 0

    async def read(self, name: str) -> bytes | None:
        """The stored bytes or ``None``."""
        return self.files.get(check_file_name(name))

    async def write(self, name: str, data: bytes) -> None:
        """Replace the file."""
        self.files[check_file_name(name)] = bytes(data)
        self.writes += 1

    async def delete(self, name: str) -> bool:
        """Remove the file."""
        return self.files.pop(check_file_name(name), None) is not None

    async def names(self, suffix: str = "") -> list[str]:
        """Stored names ending with ``suffix``."""
        return sorted(n for n in self.files if n.endswith(suffix))


class MemoryChecker:
    """``ConfigChecker`` that checks the YAML structure; names in ``reject`` always fail."""

    def __init__(self) -> None:
        self.reject_rules = False
        self.reject_alertmanager = False

    async def check_rules(self, text: str) -> None:
        """Rule files need ``groups`` with named groups of rules having ``alert``/``expr``."""
        document = yaml.safe_load(text)
        groups = document.get("groups") if isinstance(document, dict) else None
        ok = isinstance(groups, list) and all(
            isinstance(g, dict) and g.get("name") and all(r.get("expr") for r in g.get("rules") or []) for g in groups
        )
        if self.reject_rules or not ok:
            raise InvalidInput("rule file rejected by promtool", output="scripted or malformed")

    async def check_alertmanager(self, text: str) -> None:
        """Configs need a root route whose receivers all exist."""
        document = yaml.safe_load(text) or {}
        names = {r.get("name") for r in document.get("receivers") or []}
        route = document.get("route") or {}
        used = {route.get("receiver")} | {r.get("receiver") for r in route.get("routes") or []}
        if self.reject_alertmanager or not route or not used <= names:
            raise InvalidInput("Alertmanager config rejected by amtool", output="scripted or malformed")


class MemoryPrometheus:
    """``PrometheusApi`` that "scrapes" the job files of a ``MemoryStore`` (every target up)."""

    def __init__(self, file_sd: MemoryStore | None = None, rules: MemoryStore | None = None) -> None:
        self._file_sd = file_sd or MemoryStore()
        self._rules = rules or MemoryStore()
        self.reloads = 0
        self.fail_next_reload = False
        self.loaded_rules: dict[str, bytes] = {}
        self.down: set[str] = set()
        self.firing: list[dict[str, Any]] = []
        self.usage: dict[tuple[str, str], float] = {}
        """Percent use per (instance, "cpu" | "memory"), what query_range answers."""

    async def ping(self) -> None:
        """Always answers."""

    async def reload(self) -> None:
        """Load the rule files, unless a failure was scripted."""
        self.reloads += 1
        if self.fail_next_reload:
            self.fail_next_reload = False
            raise ConfigurationError("Prometheus rejected the reload", reason="scripted")
        self.loaded_rules = dict(self._rules.files)

    async def targets(self) -> list[dict[str, Any]]:
        """Every target of every job file; those in ``down`` report down."""
        out = []
        for name, data in sorted(self._file_sd.files.items()):
            job = name.rsplit(".", 1)[0]
            for target in parse_job_file(job, data):
                health = "down" if target.key in self.down else "up"
                labels = {"job": job, "instance": target.address, **target.labels}
                out.append(
                    {
                        "labels": labels,
                        "discoveredLabels": {"__address__": target.key},
                        "health": health,
                        "lastError": "" if health == "up" else "connection refused",
                        "lastScrape": None,
                    }
                )
        return out

    async def rule_groups(self) -> list[dict[str, Any]]:
        """Groups of the loaded rule files."""
        groups = []
        for name, data in sorted(self.loaded_rules.items()):
            for group in (yaml.safe_load(data) or {}).get("groups") or []:
                rules = [
                    {
                        "name": r["alert"],
                        "query": r["expr"],
                        "labels": r.get("labels", {}),
                        "state": "inactive",
                        "type": "alerting",
                        "health": "ok",
                        "alerts": [],
                    }
                    for r in group.get("rules") or []
                ]
                groups.append({"name": group["name"], "file": name, "interval": 15, "rules": rules})
        return groups

    async def alerts(self) -> list[dict[str, Any]]:
        """Alerts put in ``firing`` by the test."""
        return list(self.firing)

    async def query_range(self, expr: str, start: float, end: float, step_s: int) -> list[dict[str, Any]]:
        """Every up target of the expression's job at the level in ``usage`` (cpu or memory)."""
        kind = "cpu" if "node_cpu_seconds_total" in expr else "memory"
        out = []
        for target in await self.targets():
            if target["health"] != "up" or f'job="{target["labels"]["job"]}"' not in expr:
                continue
            level = self.usage.get((target["labels"]["instance"], kind), 0.0)
            points = [[start + i * step_s, str(level)] for i in range(int((end - start) // step_s) + 1)]
            out.append({"metric": {"instance": target["labels"]["instance"]}, "values": points})
        return out


class MemoryAlertmanager:
    """``AlertmanagerApi`` keeping silences with Alertmanager's states."""

    def __init__(self, clock: Clock | None = None) -> None:
        self._clock = clock or SystemClock()
        self._silences: dict[str, dict[str, Any]] = {}
        self.reloads = 0
        self.fail_next_reload = False
        self.alerts_held: list[dict[str, Any]] = []

    async def ping(self) -> None:
        """Always answers."""

    async def reload(self) -> None:
        """Count the reload, unless a failure was scripted."""
        self.reloads += 1
        if self.fail_next_reload:
            self.fail_next_reload = False
            raise ConfigurationError("Alertmanager rejected the reload", reason="scripted")

    def _state(self, silence: dict[str, Any]) -> str:
        now = self._clock.now()
        if datetime.fromisoformat(silence["endsAt"].replace("Z", "+00:00")) <= now:
            return "expired"
        if datetime.fromisoformat(silence["startsAt"].replace("Z", "+00:00")) > now:
            return "pending"
        return "active"

    async def silences(self) -> list[dict[str, Any]]:
        """Every silence with its current state."""
        return [{**s, "status": {"state": self._state(s)}} for s in self._silences.values()]

    async def put_silence(self, silence: dict[str, Any]) -> str:
        """Create, or update by ``id`` (an unknown id is ``NotFound``-like ``InvalidInput``)."""
        if not silence.get("matchers"):
            raise InvalidInput("a silence needs matchers")
        silence_id = str(silence.get("id") or uuid.uuid4())
        if silence.get("id") and silence_id not in self._silences:
            raise InvalidInput("silence not found", id=silence_id)
        self._silences[silence_id] = {**silence, "id": silence_id}
        return silence_id

    async def expire_silence(self, silence_id: str) -> bool:
        """Set ``endsAt`` to now."""
        silence = self._silences.get(silence_id)
        if silence is None or self._state(silence) == "expired":
            return False
        silence["endsAt"] = self._clock.now().isoformat()
        return True

    async def alerts(self) -> list[dict[str, Any]]:
        """Alerts put in ``alerts_held`` by the test."""
        return list(self.alerts_held)


class MemoryDashboards:
    """``Dashboards`` keeping dashboards with their folder and annotations."""

    def __init__(self) -> None:
        self.dashboards: dict[str, dict[str, Any]] = {}
        self.folders: dict[str, str] = {}
        self.annotations: list[dict[str, Any]] = []

    async def ping(self) -> None:
        """Always answers."""

    async def upsert(self, dashboard: dict[str, Any], folder_uid: str | None = None) -> str:
        """Store by uid; the folder stays unless another is named; titles unique per folder."""
        uid = str(dashboard["uid"])
        folder = folder_uid if folder_uid is not None else self.folders.get(uid, "")
        for other, model in self.dashboards.items():
            if other != uid and self.folders.get(other) == folder and model["title"] == dashboard["title"]:
                raise Conflict("Grafana refused the dashboard", uid=uid, status="name-exists")
        self.dashboards[uid] = dict(dashboard)
        self.folders[uid] = folder
        return f"/d/{uid}"

    async def listed(self) -> dict[str, tuple[str, str]]:
        """uid → (title, ``/d/<uid>``)."""
        return {uid: (str(model["title"]), f"/d/{uid}") for uid, model in self.dashboards.items()}

    async def delete(self, uid: str) -> bool:
        """Remove by uid."""
        self.folders.pop(uid, None)
        return self.dashboards.pop(uid, None) is not None

    async def annotate(self, text: str, tags: Sequence[str], time_ms: int | None = None) -> int:
        """Record the annotation."""
        self.annotations.append({"id": len(self.annotations) + 1, "text": text, "tags": list(tags), "time": time_ms})
        return len(self.annotations)

"""Alert rules, Alertmanager routes and silences of scaling groups.

Every change follows the same safe path: render → validate offline (``promtool`` /
``amtool``) → write atomically → ``POST /-/reload`` → on a failed reload, put the previous
file back (or remove the new one) and reload again, then report the failure. An unchanged
rendering is not written and causes no reload, so re-provisioning is idempotent and cheap.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import yaml

from services.monitoring.domain import (
    RouteOptions,
    RuleOptions,
    alert_names,
    apply_group_routes,
    check_group,
    managed_routes,
    remove_group_routes,
    render_rules,
    rule_file_name,
    rule_group_name,
    webhook_url,
)
from services.monitoring.locks import FileLocks, ProcessLocks
from services.monitoring.ports import AlertmanagerApi, ConfigChecker, ConfigStore, PrometheusApi
from shared.clock import Clock
from shared.errors import InvalidInput, VmscaleError
from shared.messages import AlertRuleSpec

__all__ = ["Alerting", "Provisioned"]

_AM_LOCK = "alertmanager-config"

SILENCE_AUTHOR = "vmscale"


@dataclass(frozen=True)
class Provisioned:
    """The result of provisioning a group: alert names and what actually changed."""

    rule_names: tuple[str, ...]
    rules_changed: bool
    routes_changed: bool


class Alerting:
    """Owns ``<rules_dir>/<group>.yml`` and vmscale's part of the Alertmanager config."""

    def __init__(
        self,
        *,
        rules: ConfigStore,
        am_config: ConfigStore,
        am_config_name: str,
        prometheus: PrometheusApi,
        alertmanager: AlertmanagerApi,
        checker: ConfigChecker,
        rule_options: RuleOptions,
        route_options: RouteOptions,
        clock: Clock,
        silence_duration_s: int = 1800,
        locks: FileLocks | None = None,
    ) -> None:
        self._rules = rules
        self._am_config = am_config
        self._am_name = am_config_name
        self._prometheus = prometheus
        self._alertmanager = alertmanager
        self._checker = checker
        self._rule_options = rule_options
        self._route_options = route_options
        self._clock = clock
        self._silence_s = silence_duration_s
        self._locks: FileLocks = locks or ProcessLocks()
        """A group's rule file, and the one Alertmanager file, have one writer at a time: across
        the replicas sharing the directories with ``FlockLocks``."""

    async def _install(
        self, store: ConfigStore, name: str, new: bytes | None, reload: Callable[[], Awaitable[None]]
    ) -> bool:
        """Write (or with ``None`` delete) ``name`` and reload; restore on a failed reload."""
        previous = await store.read(name)
        if previous == new:
            return False
        if new is None:
            await store.delete(name)
        else:
            await store.write(name, new)
        try:
            await reload()
        except VmscaleError:
            if previous is None:
                await store.delete(name)
            else:
                await store.write(name, previous)
            await reload()
            raise
        return True

    async def provision(
        self, group: str, spec: AlertRuleSpec, webhook: str, repeat_interval_s: int, config_id: str | None = None
    ) -> Provisioned:
        """(Re)write the group's rules and routes; unchanged files cause no reload.

        Raises ``InvalidInput`` (bad names, thresholds, URL, or rejected by promtool/amtool —
        nothing installed), ``ConfigurationError`` (reload refused — previous files restored),
        ``ServiceUnavailable``.
        """
        check_group(group)
        if repeat_interval_s <= 0:
            raise InvalidInput("repeat_interval_s must be positive")
        url = webhook_url(webhook, group)
        text = render_rules(group, spec, config_id or group, self._rule_options)
        await self._checker.check_rules(text)
        name = rule_file_name(group)
        async with self._locks.hold(f"rules-{group}"):
            previous_rules = await self._rules.read(name)
            rules_changed = await self._install(self._rules, name, text.encode(), self._prometheus.reload)
            try:
                async with self._locks.hold(_AM_LOCK):
                    current = await self._read_am()
                    updated = apply_group_routes(current, group, url, repeat_interval_s, self._route_options)
                    routes_changed = await self._write_am(current, updated)
            except VmscaleError:
                if rules_changed:  # nothing half-done: the routes failed, so the rules go back too
                    await self._install(self._rules, name, previous_rules, self._prometheus.reload)
                raise
        return Provisioned(alert_names(group), rules_changed, routes_changed)

    async def remove(self, group: str) -> bool:
        """Delete the group's rules and routes; ``False`` when nothing was there."""
        check_group(group)
        async with self._locks.hold(f"rules-{group}"):
            rules_changed = await self._install(self._rules, rule_file_name(group), None, self._prometheus.reload)
        async with self._locks.hold(_AM_LOCK):
            current = await self._read_am()
            routes_changed = await self._write_am(current, remove_group_routes(current, group, self._route_options))
        return rules_changed or routes_changed

    async def _read_am(self) -> dict[str, Any]:
        data = await self._am_config.read(self._am_name)
        document = yaml.safe_load(data) if data else {}
        if not isinstance(document, dict):
            raise InvalidInput("the Alertmanager config is not a mapping")
        return document

    async def _write_am(self, current: dict[str, Any], updated: dict[str, Any]) -> bool:
        if updated == current:
            return False
        text = yaml.safe_dump(updated, sort_keys=False, width=200)
        await self._checker.check_alertmanager(text)
        return await self._install(self._am_config, self._am_name, text.encode(), self._alertmanager.reload)

    # -- reads --------------------------------------------------------------------------------

    async def rules(self) -> list[dict[str, Any]]:
        """vmscale's rule groups as Prometheus loaded them (``*-autoscale``)."""
        return [g for g in await self._prometheus.rule_groups() if str(g.get("name", "")).endswith("-autoscale")]

    async def routes(self) -> list[dict[str, Any]]:
        """vmscale's routes in the Alertmanager config file."""
        return managed_routes(await self._read_am(), self._route_options)

    async def has_group(self, group: str) -> bool:
        """True when the group's rule file exists."""
        return await self._rules.read(rule_file_name(group)) is not None

    # -- silences -----------------------------------------------------------------------------

    def _scale_in_matchers(self, group: str) -> list[dict[str, Any]]:
        _, low = alert_names(group)
        return [
            {"name": "service", "value": group, "isRegex": False, "isEqual": True},
            {"name": "alertname", "value": low, "isRegex": False, "isEqual": True},
        ]

    async def _find(self, matchers: list[dict[str, Any]]) -> list[dict[str, Any]]:
        wanted = {(m["name"], m["value"]) for m in matchers}
        found = []
        for silence in await self._alertmanager.silences():
            state = (silence.get("status") or {}).get("state")
            have = {(m.get("name"), m.get("value")) for m in silence.get("matchers") or []}
            if state in ("active", "pending") and have == wanted and silence.get("createdBy") == SILENCE_AUTHOR:
                found.append(silence)
        return found

    async def silence(self, group: str, purpose: str, matchers: list[dict[str, Any]], comment: str) -> str:
        """One silence per purpose: extend the existing one or create it; returns its id.

        Duplicates left by a crash are expired so exactly one stays.
        """
        now = self._clock.now()
        ends = now + timedelta(seconds=self._silence_s)
        existing = await self._find(matchers)
        body: dict[str, Any] = {
            "matchers": matchers,
            "startsAt": _iso(now),
            "endsAt": _iso(ends),
            "createdBy": SILENCE_AUTHOR,
            "comment": f"[{purpose}] {comment}".strip(),
        }
        if existing:
            body["id"] = existing[0]["id"]
            body["startsAt"] = existing[0].get("startsAt", body["startsAt"])
            for duplicate in existing[1:]:
                await self._alertmanager.expire_silence(str(duplicate["id"]))
        return await self._alertmanager.put_silence(body)

    async def unsilence(self, matchers: list[dict[str, Any]]) -> int:
        """Expire every vmscale silence with exactly these matchers; returns how many."""
        count = 0
        for silence in await self._find(matchers):
            count += bool(await self._alertmanager.expire_silence(str(silence["id"])))
        return count

    async def set_scale_in_silence(self, group: str, active: bool, reason: str = "") -> str | None:
        """Silence (or unsilence) ``<group>_LowResourceUsage``; returns the silence id if active."""
        check_group(group)
        matchers = self._scale_in_matchers(group)
        if active:
            return await self.silence(group, f"scale-in:{group}", matchers, reason or "group at its minimum size")
        await self.unsilence(matchers)
        return None

    async def silences(self) -> list[dict[str, Any]]:
        """vmscale's silences that are active or pending."""
        return [
            s
            for s in await self._alertmanager.silences()
            if s.get("createdBy") == SILENCE_AUTHOR and (s.get("status") or {}).get("state") in ("active", "pending")
        ]

    async def alerts(self) -> list[dict[str, Any]]:
        """Alertmanager's alerts of vmscale's groups (those carrying ``autoscaleConfigId``)."""
        return [a for a in await self._alertmanager.alerts() if "autoscaleConfigId" in (a.get("labels") or {})]

    def rule_group(self, group: str) -> str:
        """The rule group name of ``group``."""
        return rule_group_name(group)


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")

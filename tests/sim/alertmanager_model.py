"""An Alertmanager (0.25, the lab's) routing vmscale's alerts to the gateway's webhook, and the
gateway turning each notification into ``alert.fired`` / ``alert.resolved`` messages.

Modelled as Alertmanager does it:

* **Store.** Alerts from Prometheus are merged by fingerprint when their activity overlaps (the
  earliest ``starts_at`` wins), else replaced; one whose ``ends_at`` has passed is resolved — an
  alert Prometheus stops re-sending resolves by itself at its ``valid_until``.
* **Routes.** vmscale's: one route per service and alert name, ``group_by: [alertname,
  service]``, receiver ``jenkins-webhook-<svc>-out|in``; ``send_resolved`` off by default.
* **Aggregation groups.** A new group flushes ``group_wait`` after its first alert — at once if
  that alert's ``starts_at + group_wait`` is already past (an alert that waited out its ``for:``
  in Prometheus is notified immediately) — and then on every ``group_interval`` tick. Empty
  groups are removed by the maintenance run every 30 s; until then a new alert waits for the
  next tick.
* **Notify pipeline** at each flush: silenced alerts are dropped (none left: nothing happens);
  the notification log decides (a new firing alert or one newly resolved with ``send_resolved``
  → notify; all resolved → log it, send nothing; unchanged → repeat once the last notification
  is older than ``repeat_interval``, i.e. at the first tick strictly after it); the log entry
  lives ``2 * repeat_interval``. The alert's hash is its labels: a new episode of an alert the
  log still holds as firing is *not* notified until the repeat.
* **Faults** on delivery: ``lose_next(n)`` (Alertmanager believes it delivered),
  ``duplicate_next(n)`` (delivered twice).
* **Gateway.** Each delivered alert becomes an ``AlertFired`` / ``AlertResolved`` with the
  gateway's deterministic message id; with ``gateway_dedupe`` an episode ``(fingerprint,
  starts_at, status)`` already published within ``dedupe_ttl_s`` is dropped, as the real
  gateway's Redis ledger does (so a repeat of a still-firing episode never reaches the scaler).

Alerts that arrive at ``t`` are inserted after the flushes due before ``t`` and before those due
at ``t``. Alerts that arrive for a time the model has passed are taken at its current time.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from services.gateway.webhook.ingest import direction_of
from shared.messages import AlertFired, AlertResolved, deterministic_id

from .rules_model import SentAlert
from .simtime import Instant, SimTime

__all__ = ["AlertmanagerModel", "Notification", "NotifiedAlert", "Silence"]

Published = AlertFired | AlertResolved


@dataclass(frozen=True)
class _Alert:
    labels: dict[str, str]
    fingerprint: str
    starts_at: float
    ends_at: float
    updated_at: float

    def resolved(self, now: float) -> bool:
        return self.ends_at <= now


@dataclass
class _Group:
    key: tuple[str, ...]
    receiver: str
    service: str
    next_flush: float
    alerts: dict[str, _Alert] = field(default_factory=dict)
    has_flushed: bool = False
    empty_since: float | None = None


@dataclass(frozen=True)
class _LogEntry:
    firing: frozenset[str]
    resolved: frozenset[str]
    at: float
    expires: float


@dataclass(frozen=True)
class Silence:
    """Mutes alerts named ``alertname`` (of ``service``, when given) during ``[starts_at, ends_at)``."""

    id: str
    alertname: str
    service: str | None
    starts_at: float
    ends_at: float


@dataclass(frozen=True)
class NotifiedAlert:
    """One alert inside a webhook notification."""

    status: str
    labels: dict[str, str]
    fingerprint: str
    starts_at: float
    ends_at: float | None


@dataclass(frozen=True)
class Notification:
    """One webhook POST: ``fate`` is ``delivered``, ``lost`` or ``duplicated``."""

    at: float
    receiver: str
    service: str
    alerts: tuple[NotifiedAlert, ...]
    fate: str


class AlertmanagerModel:
    """Alertmanager plus the gateway's webhook, in simulated time."""

    def __init__(
        self,
        time: SimTime,
        *,
        group_wait_s: float = 10.0,
        group_interval_s: float = 10.0,
        repeat_interval_s: float = 300.0,
        send_resolved: bool = False,
        gateway_dedupe: bool = True,
        dedupe_ttl_s: float = 7 * 86_400,
        maintenance_interval_s: float = 30.0,
        group_by: tuple[str, ...] = ("alertname", "service"),
        receiver_template: str = "jenkins-webhook-{service}-{direction}",
    ) -> None:
        self.time = time
        self.group_wait_s, self.group_interval_s = group_wait_s, group_interval_s
        self.repeat_interval_s, self.send_resolved = repeat_interval_s, send_resolved
        self.repeat_intervals: dict[str, float] = {}
        self.gateway_dedupe, self.dedupe_ttl_s = gateway_dedupe, dedupe_ttl_s
        self.maintenance_interval_s = maintenance_interval_s
        self.group_by, self.receiver_template = group_by, receiver_template
        self.start = self.now = time.now()
        self.notifications: list[Notification] = []
        self.published: list[Published] = []
        self.silences: list[Silence] = []
        # By alert name, the indexes in ``silences`` of the silences that may still mute: one that
        # ended by the model's now mutes nothing more, as no flush runs before now.
        self._may_mute: dict[str, list[int]] = {}
        self._store: dict[str, _Alert] = {}
        self._groups: dict[tuple[str, ...], _Group] = {}
        self._log: dict[tuple[str, ...], _LogEntry] = {}
        self._claimed: dict[str, float] = {}
        self._outbox: list[Published] = []
        self._lose = self._duplicate = 0

    # -- inputs ----------------------------------------------------------------------------

    def receive(self, alerts: Iterable[SentAlert], at: float) -> None:
        """Alerts posted by Prometheus at ``at`` (seconds)."""
        at = max(at, self.now)
        self._run(at, inclusive=False)
        self.now = at
        for sent in alerts:
            alert = self._merge(_Alert(dict(sent.labels), sent.fingerprint, sent.starts_at, sent.ends_at, at), at)
            self._store[alert.fingerprint] = alert
            group = self._group_of(alert, at)
            group.alerts[alert.fingerprint] = alert
            group.empty_since = None
            if not group.has_flushed and alert.starts_at + self.group_wait_s < at:
                group.next_flush = at

    def silence(self, alertname: str, until: Instant, *, service: str | None = None, at: Instant | None = None) -> str:
        """Silence ``alertname`` from ``at`` (now) until ``until``; returns the silence's id."""
        start = self._advance_for(at)
        silence = Silence(f"silence-{len(self.silences) + 1}", alertname, service, start, self.time.seconds(until))
        self._may_mute.setdefault(alertname, []).append(len(self.silences))
        self.silences.append(silence)
        return silence.id

    def expire(self, alertname: str, at: Instant | None = None) -> None:
        """End every active silence of ``alertname`` now."""
        now = self._advance_for(at)
        live = self._may_mute.get(alertname, [])
        for i in live:
            s = self.silences[i]
            if s.starts_at <= now < s.ends_at:
                self.silences[i] = replace(s, ends_at=now)
        self._may_mute[alertname] = [i for i in live if self.silences[i].ends_at > now]

    def lose_next(self, n: int = 1) -> None:
        """The next ``n`` notifications are lost after Alertmanager logged them as sent."""
        self._lose += n

    def duplicate_next(self, n: int = 1) -> None:
        """The next ``n`` notifications are delivered twice."""
        self._duplicate += n

    # -- time ------------------------------------------------------------------------------

    def advance_to(self, at: Instant | None = None) -> list[Published]:
        """Run every flush due up to ``at``; returns (and forgets) what the gateway published
        since the last call, oldest first."""
        t = self.time.resolve(at)
        if t < self.now:
            raise ValueError(f"Alertmanager is at {self.now:g}s; cannot go back to {t:g}s")
        self._run(t, inclusive=True)
        self.now = t
        out, self._outbox = self._outbox, []
        return out

    def _advance_for(self, at: Instant | None) -> float:
        t = self.time.resolve(at)
        self._run(t, inclusive=True)
        self.now = max(self.now, t)
        return self.now

    def _run(self, limit: float, *, inclusive: bool) -> None:
        while True:
            due = [
                g
                for g in self._groups.values()
                if g.alerts and (g.next_flush <= limit if inclusive else g.next_flush < limit)
            ]
            if not due:
                return
            group = min(due, key=lambda g: (g.next_flush, g.key))
            self.now = max(self.now, group.next_flush)
            self._flush(group, group.next_flush)

    # -- the dispatcher --------------------------------------------------------------------

    def _merge(self, new: _Alert, now: float) -> _Alert:
        old = self._store.get(new.fingerprint)
        if old is None:
            return new
        overlaps = (old.starts_at < new.ends_at < old.ends_at) or (old.starts_at < new.starts_at < old.ends_at)
        if not overlaps:
            return new
        ends = new.ends_at
        if new.resolved(now):
            if old.resolved(now) and old.ends_at > new.ends_at:
                ends = old.ends_at
        elif old.ends_at > new.ends_at:
            ends = old.ends_at
        return replace(new, starts_at=min(old.starts_at, new.starts_at), ends_at=ends)

    def _group_of(self, alert: _Alert, now: float) -> _Group:
        service = alert.labels.get("service", "")
        direction = "in" if alert.labels.get("alertname", "").endswith("LowResourceUsage") else "out"
        receiver = self.receiver_template.format(service=service, direction=direction)
        key = (receiver, *(alert.labels.get(name, "") for name in self.group_by))
        group = self._groups.get(key)
        if group is not None and group.empty_since is not None and not group.alerts:
            tick = math.ceil((group.empty_since - self.start) / self.maintenance_interval_s - 1e-9)
            if self.start + tick * self.maintenance_interval_s <= now:
                group = None  # removed by the maintenance run
            else:
                skipped = max(0, math.ceil((now - group.next_flush) / self.group_interval_s - 1e-9))
                group.next_flush += skipped * self.group_interval_s
        if group is None:
            group = self._groups[key] = _Group(key, receiver, service, now + self.group_wait_s)
        return group

    def _flush(self, group: _Group, now: float) -> None:
        group.has_flushed = True
        group.next_flush = now + self.group_interval_s
        alerts = sorted(group.alerts.values(), key=lambda a: a.fingerprint)
        visible = [a for a in alerts if not self._muted(a.labels, now)]
        if visible:
            firing = frozenset(a.fingerprint for a in visible if not a.resolved(now))
            resolved = frozenset(a.fingerprint for a in visible if a.resolved(now))
            repeat = self.repeat_intervals.get(group.service, self.repeat_interval_s)
            entry = self._log.get(group.key)
            if entry is not None and entry.expires <= now:
                entry = None
            if self._needs_update(entry, firing, resolved, repeat, now):
                to_send = [a for a in visible if self.send_resolved or not a.resolved(now)]
                if to_send:
                    self._deliver(group, to_send, now)
                self._log[group.key] = _LogEntry(firing, resolved, now, now + 2 * repeat)
        for alert in alerts:
            if alert.resolved(now):
                del group.alerts[alert.fingerprint]
        if not group.alerts:
            group.empty_since = now

    def _needs_update(
        self, entry: _LogEntry | None, firing: frozenset[str], resolved: frozenset[str], repeat: float, now: float
    ) -> bool:
        if entry is None:
            return bool(firing)
        if not firing <= entry.firing:
            return True
        if not firing:
            return bool(entry.firing)
        if self.send_resolved and not resolved <= entry.resolved:
            return True
        return entry.at < now - repeat

    def _muted(self, labels: dict[str, str], now: float) -> bool:
        name = labels.get("alertname")
        indexes = self._may_mute.get(name, ()) if name is not None else ()
        silences = self.silences
        return any(
            s.starts_at <= now < s.ends_at and (s.service is None or labels.get("service") == s.service)
            for s in (silences[i] for i in indexes)
        )

    # -- delivery and the gateway ----------------------------------------------------------

    def _deliver(self, group: _Group, alerts: list[_Alert], now: float) -> None:
        notified = tuple(
            NotifiedAlert(
                "resolved" if a.resolved(now) else "firing",
                a.labels,
                a.fingerprint,
                a.starts_at,
                a.ends_at if a.resolved(now) else None,
            )
            for a in alerts
        )
        copies, fate = 1, "delivered"
        if self._lose:
            self._lose, copies, fate = self._lose - 1, 0, "lost"
        elif self._duplicate:
            self._duplicate, copies, fate = self._duplicate - 1, 2, "duplicated"
        self.notifications.append(Notification(now, group.receiver, group.service, notified, fate))
        for _ in range(copies):
            for alert in notified:
                message = self._gateway(group, alert, now)
                if message is not None:
                    self._outbox.append(message)
                    self.published.append(message)

    def _gateway(self, group: _Group, alert: NotifiedAlert, now: float) -> Published | None:
        starts = self.time.at(alert.starts_at)
        key = f"{group.service}|{alert.fingerprint}|{starts.isoformat()}|{alert.status}"
        if self.gateway_dedupe:
            if self._claimed.get(key, -math.inf) > now:
                return None
            self._claimed[key] = now + self.dedupe_ttl_s
        alertname = alert.labels.get("alertname", "")
        common = {
            "message_id": deterministic_id("alert", key),
            "occurred_at": self.time.at(now),
            "group": group.service,
            "alertname": alertname or "<none>",
            "direction": direction_of(alertname),
            "fingerprint": alert.fingerprint,
            "starts_at": starts,
            "labels": dict(alert.labels),
            "receiver": group.receiver,
        }
        if alert.status == "resolved" and alert.ends_at is not None:
            return AlertResolved(**common, ends_at=self.time.at(alert.ends_at))
        return AlertFired(**common)

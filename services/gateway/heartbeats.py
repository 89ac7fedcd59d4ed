"""The gateway's view of which services are alive, from their heartbeats."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from shared.clock import Clock
from shared.messages import ServiceHeartbeat
from shared.subjects import SERVICES

__all__ = ["HeartbeatBoard", "ServiceLiveness"]


@dataclass(frozen=True)
class ServiceLiveness:
    """One service's last heartbeat and whether it is recent enough."""

    service: str
    healthy: bool
    age_s: float | None
    problems: dict[str, str]
    instances: int
    pid: int | None


class HeartbeatBoard:
    """Keeps the last heartbeat of every service instance."""

    def __init__(self, clock: Clock, stale_after_s: float) -> None:
        self._clock = clock
        self._stale_after_s = stale_after_s
        self._last: dict[str, dict[str, tuple[datetime, ServiceHeartbeat]]] = {}

    def record(self, beat: ServiceHeartbeat) -> None:
        """Remember a heartbeat (received now)."""
        self._last.setdefault(beat.service, {})[beat.instance] = (self._clock.now(), beat)

    def liveness(self) -> list[ServiceLiveness]:
        """Every known service, healthy when an instance beat within the stale window."""
        now = self._clock.now()
        out = []
        for service in SERVICES:
            beats = self._last.get(service, {})
            fresh = [
                (seen, beat) for seen, beat in beats.values() if (now - seen).total_seconds() <= self._stale_after_s
            ]
            healthy_fresh = [beat for _, beat in fresh if beat.healthy]
            newest = max(beats.values(), default=None, key=lambda item: item[0])
            out.append(
                ServiceLiveness(
                    service=service,
                    healthy=bool(healthy_fresh),
                    age_s=round((now - newest[0]).total_seconds(), 3) if newest else None,
                    instances=len(fresh),
                    pid=newest[1].pid if newest else None,
                    problems=dict(newest[1].problems) if newest else {},
                )
            )
        return out

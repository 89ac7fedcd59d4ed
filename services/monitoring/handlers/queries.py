"""Request/reply handlers of ``query.monitoring.*``: jobs, targets, rules, routes, silences, alerts.

A failure is answered with ``error`` / ``error_kind`` in the reply, never by silence.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from faststream.nats import NatsRouter

from services.monitoring.service import MonitoringService
from shared import subjects
from shared.bus import Bus
from shared.errors import VmscaleError, kind_of
from shared.messages import (
    InstanceMetricsQuery,
    InstanceMetricsReply,
    InstanceSeries,
    MonitoringAlertsQuery,
    MonitoringAlertsReply,
    MonitoringJobsQuery,
    MonitoringJobsReply,
    MonitoringRoutesQuery,
    MonitoringRoutesReply,
    MonitoringRulesQuery,
    MonitoringRulesReply,
    MonitoringSilencesQuery,
    MonitoringSilencesReply,
    MonitoringTargetsQuery,
    MonitoringTargetsReply,
    Reply,
    TargetHealthInfo,
)

__all__ = ["query_router"]

SERVICE = "monitoring"
R = TypeVar("R", bound=Reply)


async def _answer(reply: type[R], make: Callable[[], Awaitable[R]]) -> R:
    try:
        return await make()
    except VmscaleError as exc:
        return reply(error=str(exc), error_kind=kind_of(exc))


def query_router(bus: Bus, service: MonitoringService) -> NatsRouter:
    """Every ``query.monitoring.*`` responder."""
    router = NatsRouter()

    @bus.responder(router, subjects.QUERY_MONITORING_JOBS, SERVICE)
    async def jobs(query: MonitoringJobsQuery) -> MonitoringJobsReply:
        async def make() -> MonitoringJobsReply:
            jobs = await service.registry.jobs()
            try:  # Grafana being down costs the links, never the jobs
                return MonitoringJobsReply(jobs=jobs, dashboards=await service.dashboard_links(jobs))
            except VmscaleError as exc:
                return MonitoringJobsReply(jobs=jobs, dashboards_error=f"Grafana: {exc}")

        return await _answer(MonitoringJobsReply, make)

    @bus.responder(router, subjects.QUERY_MONITORING_TARGETS, SERVICE)
    async def targets(query: MonitoringTargetsQuery) -> MonitoringTargetsReply:
        async def make() -> MonitoringTargetsReply:
            health = {h.target: h for h in await service.registry.health(query.job)}
            infos = []
            for target in await service.registry.targets(query.job):
                seen = health.get(target.key)
                infos.append(
                    TargetHealthInfo(
                        job=query.job,
                        target=target.key,
                        instance=target.address,
                        vm_name=target.vm_name,
                        health=seen.health if seen else "unknown",
                        last_error=seen.last_error if seen else "",
                        last_scrape=seen.last_scrape if seen else None,
                    )
                )
            return MonitoringTargetsReply(targets=tuple(infos))

        return await _answer(MonitoringTargetsReply, make)

    @bus.responder(router, subjects.QUERY_MONITORING_RULES, SERVICE)
    async def rules(query: MonitoringRulesQuery) -> MonitoringRulesReply:
        async def make() -> MonitoringRulesReply:
            return MonitoringRulesReply(groups=tuple(await service.alerting.rules()))

        return await _answer(MonitoringRulesReply, make)

    @bus.responder(router, subjects.QUERY_MONITORING_ROUTES, SERVICE)
    async def routes(query: MonitoringRoutesQuery) -> MonitoringRoutesReply:
        async def make() -> MonitoringRoutesReply:
            return MonitoringRoutesReply(routes=tuple(await service.alerting.routes()))

        return await _answer(MonitoringRoutesReply, make)

    @bus.responder(router, subjects.QUERY_MONITORING_SILENCES, SERVICE)
    async def silences(query: MonitoringSilencesQuery) -> MonitoringSilencesReply:
        async def make() -> MonitoringSilencesReply:
            return MonitoringSilencesReply(silences=tuple(await service.alerting.silences()))

        return await _answer(MonitoringSilencesReply, make)

    @bus.responder(router, subjects.QUERY_MONITORING_ALERTS, SERVICE)
    async def alerts(query: MonitoringAlertsQuery) -> MonitoringAlertsReply:
        async def make() -> MonitoringAlertsReply:
            return MonitoringAlertsReply(alerts=tuple(await service.alerting.alerts()))

        return await _answer(MonitoringAlertsReply, make)

    @bus.responder(router, subjects.QUERY_MONITORING_INSTANCE_METRICS, SERVICE)
    async def instance_metrics(query: InstanceMetricsQuery) -> InstanceMetricsReply:
        async def make() -> InstanceMetricsReply:
            usage = await service.registry.usage(query.job, query.minutes, query.step_s, service.settings.rate_window)
            return InstanceMetricsReply(
                series=tuple(
                    InstanceSeries(instance=name, cpu=kinds.get("cpu", ()), memory=kinds.get("memory", ()))
                    for name, kinds in sorted(usage.items())
                )
            )

        return await _answer(InstanceMetricsReply, make)

    return router

"""The monitoring service's routers; the routing table fits on one screen.

===================================  ======================  ==================================
subject                              handler                 use case
===================================  ======================  ==================================
``cmd.monitoring.register``          ``on_register``         ``MonitoringService.register``
``cmd.monitoring.register_jmx``      ``on_register_jmx``     ``MonitoringService.register_jmx``
``cmd.monitoring.deregister``        ``on_deregister``       ``MonitoringService.deregister``
``cmd.monitoring.delete_job``        ``on_delete_job``       ``MonitoringService.delete_job``
``cmd.monitoring.provision_alerts``  ``on_provision``        ``MonitoringService.provision``
``cmd.monitoring.remove_alerts``     ``on_remove_alerts``    ``MonitoringService.remove_alerts``
``cmd.monitoring.silence``           ``on_silence``          ``MonitoringService.silence``
``cmd.monitoring.install_agents``    ``on_install_agents``   ``MonitoringService.install_agents``
``activity.started|succeeded|...``   ``activities.*``        ``MonitoringService.annotate``
``query.monitoring.*``               ``queries.*``           registry / alerting reads
===================================  ======================  ==================================
"""

from __future__ import annotations

from faststream.nats import NatsRouter

from services.monitoring.handlers.activities import activity_router
from services.monitoring.handlers.commands import command_router
from services.monitoring.handlers.queries import query_router
from services.monitoring.service import MonitoringService
from shared.bus import Bus

__all__ = ["build_routers"]


def build_routers(bus: Bus, service: MonitoringService) -> list[NatsRouter]:
    """Every router of the service, bound to ``bus``'s topology."""
    return [command_router(bus, service), query_router(bus, service), activity_router(bus, service)]

"""Typed clients of the back-end services, one per service, written against ``shared.subjects``.

Each method sends one subject and returns that subject's reply model; how a failure becomes one
of our errors (and so an HTTP problem) is decided once, in ``base.BackendClient``.
"""

from services.gateway.clients.base import BackendClient, to_error
from services.gateway.clients.inventory import InventoryClient
from services.gateway.clients.loadbalancer import LoadBalancerClient
from services.gateway.clients.monitoring import MonitoringClient
from services.gateway.clients.scaler import ScalerClient

__all__ = [
    "BackendClient",
    "InventoryClient",
    "LoadBalancerClient",
    "MonitoringClient",
    "ScalerClient",
    "to_error",
]

"""The inventory service's own metrics: how fresh its view of vCenter is.

Families (unlabelled, read at each scrape from plain attributes, never by asking vCenter)::

    vmscale_vcenter_cache_age_seconds           since vCenter last answered the watcher (NaN before
                                                the first sync)
    vmscale_vcenter_change_feed_lag_seconds     since the change feed last delivered a batch (or the
                                                cold sync finished); grows while the feed is stuck
    vmscale_vcenter_consecutive_failures        failed reads in a row (0 while the feed flows)

Whether vCenter answers at all is ``vmscale_dependency_up{dependency="vcenter"}`` (every service's
health checks, ``shared.metrics``).
"""

from __future__ import annotations

from datetime import datetime

from prometheus_client import CollectorRegistry

from services.inventory.service import InventoryService
from shared.messages import utcnow
from shared.metrics import gauge_function

__all__ = ["register_inventory_metrics"]


def _since(moment: datetime | None) -> float | None:
    return None if moment is None else max(0.0, (utcnow() - moment).total_seconds())


def register_inventory_metrics(registry: CollectorRegistry, service: InventoryService) -> None:
    """Add the inventory's families (module docstring) to ``registry``."""
    gauge_function(
        registry,
        "vmscale_vcenter_cache_age_seconds",
        "Seconds since vCenter last answered the inventory's watcher",
        service.cache.age_s,
    )
    gauge_function(
        registry,
        "vmscale_vcenter_change_feed_lag_seconds",
        "Seconds since the vCenter change feed last delivered (or the cold sync finished)",
        lambda: _since(service.watcher.status.last_success),
    )
    gauge_function(
        registry,
        "vmscale_vcenter_consecutive_failures",
        "vCenter reads that failed in a row",
        lambda: service.watcher.status.consecutive_failures,
    )

"""The original system's VM names: its autoscaled VMs end in ``-<yyyyMMddHHmm>`` (docs/original-system.md §11.2).

Its scale-in recognised them by that suffix and removed the newest first; VMs without it were
the service's base VMs. vmscale keeps that meaning when it takes those VMs over (``vmscale
import``, the Jenkins ``vm-created`` callback): the timestamp becomes the instance's creation
time, so its own newest-first ordering removes them in the original's order.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

__all__ = ["AUTOSCALED_SUFFIX", "autoscaled_at"]

AUTOSCALED_SUFFIX = re.compile(r"-(\d{12})$")
"""``-`` and 12 digits at the end of a VM name: the original's timestamp (Jenkins-node local time)."""


def autoscaled_at(vm_name: str) -> datetime | None:
    """When the original created this autoscaled VM (read as UTC), or ``None`` for a base VM.

    A suffix of 12 digits that is not a valid time (month 13, say) is not the original's
    timestamp: such a VM is a base VM.
    """
    match = AUTOSCALED_SUFFIX.search(vm_name.strip())
    if match is None:
        return None
    try:
        return datetime.strptime(match.group(1), "%Y%m%d%H%M").replace(tzinfo=UTC)
    except ValueError:
        return None

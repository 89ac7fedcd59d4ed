"""The registry of lab parts, in start order.

Each area contributes a function ``parts(config) -> list[Part]`` from its own module; this list
is the one place they are put together.
"""

from __future__ import annotations

from collections.abc import Callable

from lab.config import LabConfig
from lab.runner import Part

__all__ = ["PART_SOURCES", "all_parts"]

PART_SOURCES: list[Callable[[LabConfig], list[Part]]] = []
"""Contributors of parts, in start order (vcsim, monitoring stack, load balancers, simulators)."""


def all_parts(config: LabConfig) -> list[Part]:
    """Every lab part for ``config``."""
    return [part for source in PART_SOURCES for part in source(config)]


from lab import vcsim as _vcsim  # noqa: E402 - registered after the list exists

PART_SOURCES.append(_vcsim.parts)

from lab import vm_agents as _vm_agents  # noqa: E402 - registered after the list exists

PART_SOURCES.append(_vm_agents.parts)

from lab import monitoring as _monitoring  # noqa: E402 - registered after the list exists

PART_SOURCES.append(_monitoring.parts)

from lab import loadbalancer as _loadbalancer  # noqa: E402 - registered after the list exists

PART_SOURCES.append(_loadbalancer.parts)

from lab import jenkins as _jenkins  # noqa: E402 - registered after the list exists

PART_SOURCES.append(_jenkins.parts)

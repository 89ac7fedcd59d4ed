"""The gateway's live event feed: what it keeps for the events list and what it only passes on."""

from __future__ import annotations

from typing import Any, cast

from services.gateway.events import EventFeed
from shared import subjects
from shared.bus import Bus


def feed() -> EventFeed:
    return EventFeed(cast(Bus, None), capacity=10)  # ``add`` and ``recent`` never touch the bus


async def test_progress_reaches_live_listeners_but_is_not_kept_among_the_events() -> None:
    events = feed()
    queue = events.listen()
    progress: dict[str, Any] = {"operation": "clone", "vm_name": "web-11", "group": "web", "percent": 27}
    events.add(subjects.VM_PROGRESS.name, progress)
    events.add(subjects.VM_CLONED.name, {"vm_name": "web-11", "group": "web"})
    assert [queue.get_nowait().subject for _ in range(2)] == [subjects.VM_PROGRESS.name, subjects.VM_CLONED.name]
    assert [event.subject for event in events.recent()] == [subjects.VM_CLONED.name]


async def test_a_stream_of_progress_never_pushes_real_events_out_of_the_ring() -> None:
    events = feed()
    events.add(subjects.ACTIVITY_STARTED.name, {"group": "web"})
    for percent in range(100):
        events.add(subjects.VM_PROGRESS.name, {"vm_name": "web-11", "percent": percent})
    assert [event.subject for event in events.recent()] == [subjects.ACTIVITY_STARTED.name]

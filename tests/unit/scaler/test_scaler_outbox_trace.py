"""A message the outbox publishes later still belongs to the trace that recorded it.

The relay loop runs outside every request's span: without the context stored with each entry,
the saga's commands it sends would each start a trace of their own, and a collector would see
the scale-out broken at the scaler.
"""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from services.scaler.domain import ActivityStatus
from services.scaler.outbox import OutboxRelay
from services.scaler.ports import UnitOfWork
from shared import subjects
from shared.messages import DecisionRecorded, Message
from shared.subjects import Subject
from shared.telemetry import build_tracer_provider
from testkit.clock import FakeClock
from testkit.scaler.memory_store import MemoryStore
from tests.unit.scaler.scaler_harness import Harness

pytestmark = pytest.mark.unit


class TracePublisher:
    """Notes the trace id current at each publish (what FastStream puts in the NATS headers)."""

    def __init__(self) -> None:
        self.traces: dict[str, int] = {}

    async def publish(self, subject: Subject[Any], message: Message) -> None:
        self.traces[str(message.message_id)] = trace.get_current_span().get_span_context().trace_id


def record(uow: UnitOfWork, reason: str) -> str:
    event = DecisionRecorded(group="web", allowed=False, delta=0, reason=reason, trigger="evaluation", observed={})
    return uow.outbox.add(subjects.DECISION_RECORDED, event)


@pytest.mark.parametrize("exporter", ["none", "in-memory"])
async def test_the_relay_loop_publishes_each_entry_in_the_trace_that_recorded_it(exporter: str) -> None:
    clock = FakeClock()
    store = MemoryStore(clock)
    publisher = TracePublisher()
    relay = OutboxRelay(store, publisher, clock)
    provider = build_tracer_provider("scaler", "none" if exporter == "none" else InMemorySpanExporter())
    tracer = provider.get_tracer("t")
    recorded: dict[str, int] = {}
    for reason in ("first alert", "second alert"):
        with tracer.start_as_current_span(f"on {reason}") as span:
            entry_id = await store.transaction(lambda uow, reason=reason: record(uow, reason))
            recorded[entry_id] = span.get_span_context().trace_id
    entry_id = await store.transaction(lambda uow: record(uow, "no span"))

    assert trace.get_current_span().get_span_context().is_valid is False  # the loop: no span
    assert await relay.flush() == 3

    assert {k: publisher.traces[k] for k in recorded} == recorded
    assert len(set(recorded.values())) == 2, "two traces, each kept apart"
    assert publisher.traces[entry_id] == 0, "recorded outside any trace: published outside any"


async def test_a_step_the_tick_retries_goes_on_in_the_trace_the_scale_out_started_in() -> None:
    h = Harness()
    await h.setup()
    traces: dict[str, int] = {}
    h.publisher.listeners.append(
        lambda subject, message: traces.setdefault(
            str(message.message_id), trace.get_current_span().get_span_context().trace_id
        )
    )
    h.world.fail("clone", retryable=True)
    tracer = build_tracer_provider("scaler", InMemorySpanExporter()).get_tracer("t")
    with tracer.start_as_current_span("alert.fired process") as span:
        await h.scaler.triggers.on_alert_fired(h.alert())
    started = span.get_span_context().trace_id
    await h.settle()
    (first,) = h.publisher.of(subjects.CMD_VM_CLONE)

    h.clock.advance(2)  # past the back-off: the loop's tick sends the clone again, outside any span
    assert not trace.get_current_span().get_span_context().is_valid
    await h.scaler.tick()
    await h.settle()

    (activity,) = await h.activities()
    assert activity.status is ActivityStatus.SUCCEEDED
    first_clone, retried_clone = h.publisher.of(subjects.CMD_VM_CLONE)
    assert first_clone is first
    assert traces[str(first.message_id)] == started
    assert traces[str(retried_clone.message_id)] == started, "the retry belongs to the scale-out's trace"
    assert h.scaler.activities._traces == {}, "forgotten once the activity ended"

"""The back-end stand-ins are checked against the real services (issue 13: one stand-in per service).

Each stand-in (``testkit/<service>/standin.py``) plays one service for the scaler's tests
(``FakeWorld``) and for the gateway's and UI tests (``FakeBackends``). Here its subjects are
compared with the real service's routers (built, nothing connects): it may answer nothing the
real service does not, and it must answer every command the scaler sends and every query the
scaler and the gateway ask of that service. Its replies are the real reply models, its events
are ones the real service may publish, and one state serves both roles.
"""

from __future__ import annotations

from typing import Any

import pytest
from faststream.nats import NatsRouter, TestNatsBroker

from shared import subjects
from shared.bus import Bus, Topology, build_broker
from shared.messages import ListPoolMembers, MonitoringTargetsQuery, VmsQuery
from shared.nats_auth import RIGHTS
from shared.subjects import Subject
from testkit.inventory.standin import InventoryStandIn
from testkit.loadbalancer.standin import LoadbalancerStandIn
from testkit.messages import sample
from testkit.monitoring.standin import MonitoringStandIn
from testkit.standin import StandIn
from tests.unit.shared.test_nats_auth import _named_subjects, subscriptions

STANDINS: dict[str, type[StandIn]] = {
    "inventory": InventoryStandIn,
    "monitoring": MonitoringStandIn,
    "loadbalancer": LoadbalancerStandIn,
}
NAMES = {"vm_name": "web-03", "name": "web-03", "group": "web", "pool": "web-pool", "job": "web"}
"""One VM through every command, so each command meets the state the one before left."""


def _bus() -> Bus:
    return build_broker("nats://127.0.0.1:4222", client_name="standin-unit", topology=Topology())


def served(standin: StandIn) -> set[str]:
    """Every subject the stand-in subscribes, commands and queries."""
    bus, router = _bus(), NatsRouter()
    standin.add_commands(router, bus)
    standin.add_queries(router, bus)
    bus.broker.include_router(router)
    return {str(s.subject.broker_address) for s in bus.broker.subscribers}


def real(service: str) -> set[str]:
    """Every command and query subject the real service subscribes."""
    return {subject for subject, _, _ in subscriptions(service) if subject.startswith(("cmd.", "query."))}


def used_by_the_tests(service: str) -> set[str]:
    """What the stand-in's users send the service: the scaler's commands (it waits for their
    events) and the scaler's and the gateway's queries, plus its health query. The gateway's
    commands are fire-and-forget (it waits for no event) and are left to the real services."""
    sent = {name for name in _named_subjects("scaler") if name.startswith("cmd.")}
    asked = {name for client in ("scaler", "gateway") for name in _named_subjects(client) if name.startswith("query.")}
    return (sent | asked | {subjects.health_query(service).name}) & real(service)


def _sample(subject: Subject[Any]) -> Any:
    model = subject.model
    return sample(model, **{k: v for k, v in NAMES.items() if k in model.model_fields})


@pytest.mark.parametrize("service", sorted(STANDINS))
def test_a_stand_in_answers_nothing_its_real_service_does_not(service: str) -> None:
    assert sorted(served(STANDINS[service]()) - real(service)) == []


@pytest.mark.parametrize("service", sorted(STANDINS))
def test_a_stand_in_answers_every_command_and_query_the_scaler_and_gateway_send_its_service(service: str) -> None:
    required = used_by_the_tests(service)
    assert required, f"nothing is sent to {service}: the derivation is broken"
    assert sorted(required - served(STANDINS[service]())) == []


@pytest.mark.parametrize("service", sorted(STANDINS))
async def test_every_query_answer_is_the_real_reply_model(service: str) -> None:
    standin, bus, router = STANDINS[service](), _bus(), NatsRouter()
    standin.add_queries(router, bus)
    bus.broker.include_router(router)
    asked = sorted(name for name in served(standin) if name.startswith("query."))
    async with TestNatsBroker(bus.broker):
        for name in asked:
            subject = subjects.by_name(name)
            assert subject.reply is not None
            # ``Bus.request`` validates the body as ``subject.reply`` (extra fields forbidden)
            assert isinstance(await bus.request(subject, _sample(subject)), subject.reply), name


@pytest.mark.parametrize("service", sorted(STANDINS))
@pytest.mark.parametrize("scripted", [False, True], ids=["answered", "scripted-failure"])
def test_every_command_event_is_one_the_real_service_publishes(service: str, scripted: bool) -> None:
    standin = STANDINS[service]()
    publishes = {subject.name for subject in RIGHTS[service].publishes}
    for name, operation in standin.operations.items():
        if scripted:
            standin.fail(operation)
        subject = subjects.by_name(name)
        command = _sample(subject)
        for event_subject, event in standin.handle(subject, command):
            assert event_subject.name in publishes, (name, event_subject.name)
            assert type(event) is event_subject.model, (name, type(event).__name__)
            assert event.correlation_id == command.correlation_id, name


async def test_what_the_scaler_commands_is_what_the_gateway_is_shown() -> None:
    inventory, monitoring, lb = InventoryStandIn(), MonitoringStandIn(), LoadbalancerStandIn()
    for standin, subject in (
        (inventory, subjects.CMD_VM_CLONE),
        (monitoring, subjects.CMD_MONITORING_REGISTER),
        (lb, subjects.CMD_POOL_ADD),
    ):
        standin.handle(subject, _sample(subject))
    bus, router = _bus(), NatsRouter()
    for standin in (inventory, monitoring, lb):
        standin.add_queries(router, bus)
    bus.broker.include_router(router)
    async with TestNatsBroker(bus.broker):
        vms = await bus.request(subjects.QUERY_INVENTORY_VMS, VmsQuery())
        targets = await bus.request(subjects.QUERY_MONITORING_TARGETS, MonitoringTargetsQuery(job="web"))
        members = await bus.request(subjects.QUERY_POOL_MEMBERS, ListPoolMembers(pool="web-pool"))
    assert [vm.name for vm in vms.vms] == ["web-03"]
    assert [t.vm_name for t in targets.targets] == ["web-03"]
    assert [m.name for m in members.members] == ["web-03"]

"""The gateway's typed clients: each call sends its subject and returns that subject's reply
model, and every failure becomes one of our errors in the same way."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from services.gateway.clients import InventoryClient, LoadBalancerClient, MonitoringClient, ScalerClient
from services.gateway.errors import status_for
from shared import subjects
from shared.errors import InvalidInput, NotFound, OperationTimeout, PermanentError, ServiceUnavailable
from shared.messages import AgentHost, InstallAgents, Message, RegisterTarget
from shared.subjects import Kind, Subject


class RecordingBus:
    """The two calls a client makes of the bus, answered with an empty reply (or ``error``)."""

    def __init__(self, connected: bool = True, error: dict[str, Any] | None = None) -> None:
        self.connected = connected
        self.error = error or {}
        self.sent: list[tuple[Subject[Any], Message]] = []

    def is_connected(self) -> bool:
        return self.connected

    async def request(self, subject: Subject[Any], query: Message, timeout: float) -> Any:
        assert isinstance(query, subject.model) and subject.reply is not None
        self.sent.append((subject, query))
        return subject.reply.model_construct(**self.error)

    async def publish(self, subject: Subject[Any], message: Message) -> None:
        assert isinstance(message, subject.model)
        self.sent.append((subject, message))


class Clients:
    def __init__(self, bus: RecordingBus) -> None:
        self.scaler = ScalerClient(bus, 1.0)  # type: ignore[arg-type]
        self.inventory = InventoryClient(bus, 1.0)  # type: ignore[arg-type]
        self.monitoring = MonitoringClient(bus, 1.0)  # type: ignore[arg-type]
        self.loadbalancer = LoadBalancerClient(bus, 1.0)  # type: ignore[arg-type]


Call = Callable[[Clients], Awaitable[Any]]
HOST = AgentHost(vm_name="web-1", address="127.0.0.5")

CALLS: list[tuple[str, Call, Subject[Any]]] = [
    ("scaler.groups", lambda c: c.scaler.groups(), subjects.QUERY_SCALER_GROUPS),
    ("scaler.group", lambda c: c.scaler.group("web"), subjects.QUERY_SCALER_GROUP),
    ("scaler.group_status", lambda c: c.scaler.group_status("web"), subjects.QUERY_SCALER_GROUP_STATUS),
    (
        "scaler.save_group",
        lambda c: c.scaler.save_group({"name": "web"}, create=True, actor="ann"),
        subjects.QUERY_SCALER_SAVE_GROUP,
    ),
    ("scaler.validate", lambda c: c.scaler.validate({"name": "web"}), subjects.QUERY_SCALER_VALIDATE),
    ("scaler.dry_run", lambda c: c.scaler.dry_run("web"), subjects.QUERY_SCALER_DRY_RUN),
    ("scaler.delete_group", lambda c: c.scaler.delete_group("web", actor="ann"), subjects.QUERY_SCALER_DELETE_GROUP),
    ("scaler.set_enabled", lambda c: c.scaler.set_enabled("web", True, actor="ann"), subjects.QUERY_SCALER_SET_ENABLED),
    (
        "scaler.scale",
        lambda c: c.scaler.scale("web", desired=3, delta=None, honor_cooldown=False, actor="ann"),
        subjects.QUERY_SCALER_SCALE,
    ),
    (
        "scaler.suspend",
        lambda c: c.scaler.suspend("web", suspend=("launch",), resume=(), actor="ann"),
        subjects.QUERY_SCALER_SUSPEND,
    ),
    ("scaler.instances", lambda c: c.scaler.instances("web"), subjects.QUERY_SCALER_INSTANCES),
    ("scaler.protect", lambda c: c.scaler.protect("web", "web-1", True, actor="ann"), subjects.QUERY_SCALER_PROTECT),
    ("scaler.detach", lambda c: c.scaler.detach("web", "web-1", actor="ann"), subjects.QUERY_SCALER_DETACH),
    (
        "scaler.adopt",
        lambda c: c.scaler.adopt("web", "web-1", "127.0.0.5", job="web"),
        subjects.QUERY_SCALER_ADOPT,
    ),
    ("scaler.mark_gone", lambda c: c.scaler.mark_gone("web", "web-1", "127.0.0.5"), subjects.QUERY_SCALER_MARK_GONE),
    (
        "scaler.activities",
        lambda c: c.scaler.activities(group=None, status=None, limit=5),
        subjects.QUERY_SCALER_ACTIVITIES,
    ),
    ("scaler.activity", lambda c: c.scaler.activity("a1"), subjects.QUERY_SCALER_ACTIVITY),
    ("scaler.cancel", lambda c: c.scaler.cancel("a1", actor="ann"), subjects.QUERY_SCALER_CANCEL),
    ("scaler.decisions", lambda c: c.scaler.decisions(group="web", limit=5), subjects.QUERY_SCALER_DECISIONS),
    ("scaler.ip_pools", lambda c: c.scaler.ip_pools(), subjects.QUERY_SCALER_IP_POOLS),
    (
        "scaler.save_ip_pool",
        lambda c: c.scaler.save_ip_pool({"name": "p"}, actor="ann"),
        subjects.QUERY_SCALER_SAVE_IP_POOL,
    ),
    (
        "scaler.delete_ip_pool",
        lambda c: c.scaler.delete_ip_pool("p", actor="ann"),
        subjects.QUERY_SCALER_DELETE_IP_POOL,
    ),
    ("inventory.vms", lambda c: c.inventory.vms(offset=10), subjects.QUERY_INVENTORY_VMS),
    ("inventory.vm", lambda c: c.inventory.vm("web-1"), subjects.QUERY_INVENTORY_VM),
    ("inventory.templates", lambda c: c.inventory.templates(), subjects.QUERY_INVENTORY_TEMPLATES),
    ("inventory.networks", lambda c: c.inventory.networks(), subjects.QUERY_INVENTORY_NETWORKS),
    ("inventory.datastores", lambda c: c.inventory.datastores(), subjects.QUERY_INVENTORY_DATASTORES),
    ("inventory.compute", lambda c: c.inventory.compute(), subjects.QUERY_INVENTORY_COMPUTE),
    ("inventory.folders", lambda c: c.inventory.folders(), subjects.QUERY_INVENTORY_FOLDERS),
    ("inventory.status", lambda c: c.inventory.status(), subjects.QUERY_INVENTORY_STATUS),
    (
        "inventory.create_template",
        lambda c: c.inventory.create_template("web-1", "tpl", ""),
        subjects.CMD_TEMPLATE_CREATE,
    ),
    ("inventory.delete_template", lambda c: c.inventory.delete_template("tpl"), subjects.CMD_TEMPLATE_DELETE),
    ("monitoring.jobs", lambda c: c.monitoring.jobs(), subjects.QUERY_MONITORING_JOBS),
    ("monitoring.targets", lambda c: c.monitoring.targets("web"), subjects.QUERY_MONITORING_TARGETS),
    (
        "monitoring.instance_metrics",
        lambda c: c.monitoring.instance_metrics("web", minutes=5, step_s=15),
        subjects.QUERY_MONITORING_INSTANCE_METRICS,
    ),
    ("monitoring.rules", lambda c: c.monitoring.rules(), subjects.QUERY_MONITORING_RULES),
    ("monitoring.routes", lambda c: c.monitoring.routes(), subjects.QUERY_MONITORING_ROUTES),
    ("monitoring.silences", lambda c: c.monitoring.silences(), subjects.QUERY_MONITORING_SILENCES),
    ("monitoring.alerts", lambda c: c.monitoring.alerts(), subjects.QUERY_MONITORING_ALERTS),
    (
        "monitoring.install_agents",
        lambda c: c.monitoring.install_agents(InstallAgents(hosts=(HOST,))),
        subjects.CMD_MONITORING_INSTALL_AGENTS,
    ),
    (
        "monitoring.register_target",
        lambda c: c.monitoring.register_target(RegisterTarget(job="web", vm_name="web-1", address="127.0.0.5")),
        subjects.CMD_MONITORING_REGISTER,
    ),
    (
        "monitoring.deregister_target",
        lambda c: c.monitoring.deregister_target("web", "web-1", "127.0.0.5", 9100),
        subjects.CMD_MONITORING_DEREGISTER,
    ),
    ("monitoring.delete_job", lambda c: c.monitoring.delete_job("web"), subjects.CMD_MONITORING_DELETE_JOB),
    ("loadbalancer.pools", lambda c: c.loadbalancer.pools(), subjects.QUERY_POOL_POOLS),
    ("loadbalancer.virtual_servers", lambda c: c.loadbalancer.virtual_servers(), subjects.QUERY_POOL_VIRTUAL_SERVERS),
    ("loadbalancer.members", lambda c: c.loadbalancer.members("web"), subjects.QUERY_POOL_MEMBERS),
]


@pytest.mark.parametrize(
    ("call", "subject"), [(call, subject) for _, call, subject in CALLS], ids=[i for i, *_ in CALLS]
)
async def test_each_call_sends_its_subject_and_returns_its_reply_model(call: Call, subject: Subject[Any]) -> None:
    bus = RecordingBus()
    result = await call(Clients(bus))
    assert [sent for sent, _ in bus.sent] == [subject]
    if subject.kind is Kind.QUERY:
        assert subject.reply is not None and type(result) is subject.reply
    else:
        assert result is None


def test_every_query_of_a_back_end_service_has_a_client_call() -> None:
    asked = {subject.name for _, _, subject in CALLS}
    queries = {
        subject.name
        for subject in subjects.ALL
        if subject.kind is Kind.QUERY
        and subject.area in ("scaler", "inventory", "monitoring", "pool")
        and not subject.name.endswith(".health")
    }
    assert queries <= asked


@pytest.mark.parametrize(
    ("error", "expected", "status"),
    [
        ({"error": "no group 'web'", "error_kind": "NotFound"}, NotFound, 404),
        (
            {"error": "invalid group", "error_kind": "InvalidInput", "error_fields": (("min_size", "too big"),)},
            InvalidInput,
            422,
        ),
        ({"error": "boom", "error_kind": "NoSuchClass"}, PermanentError, 500),
    ],
    ids=["not-found", "invalid-input-with-fields", "unknown-kind-is-permanent"],
)
async def test_a_reply_with_an_error_raises_the_error_it_names(
    error: dict[str, Any], expected: type[Exception], status: int
) -> None:
    scaler = ScalerClient(RecordingBus(error=error), 1.0)  # type: ignore[arg-type]
    with pytest.raises(expected) as raised:
        await scaler.group("web")
    assert raised.value.message == error["error"]  # type: ignore[attr-defined]
    assert raised.value.details["service"] == "scaler"  # type: ignore[attr-defined]
    assert status_for(raised.value)[0] == status  # type: ignore[arg-type]
    if isinstance(raised.value, InvalidInput):
        assert raised.value.fields == (("min_size", "too big"),)


@pytest.mark.parametrize("name", [i for i, *_ in CALLS], ids=[i for i, *_ in CALLS])
async def test_nats_down_is_503_before_anything_is_sent(name: str) -> None:
    bus = RecordingBus(connected=False)
    call = next(call for i, call, _ in CALLS if i == name)
    with pytest.raises(ServiceUnavailable) as raised:
        await call(Clients(bus))
    assert bus.sent == [] and status_for(raised.value) == (503, "service-unavailable")
    assert raised.value.details["retry_after_s"] == 5


async def test_with_timeout_keeps_the_bus_and_changes_only_the_wait() -> None:
    class SlowBus(RecordingBus):
        async def request(self, subject: Subject[Any], query: Message, timeout: float) -> Any:
            raise OperationTimeout("no reply", subject=subject.name, waited=timeout)

    scaler = ScalerClient(SlowBus(), 5.0).with_timeout(0.5)  # type: ignore[arg-type]
    with pytest.raises(OperationTimeout) as raised:
        await scaler.group_status("web")
    assert raised.value.details["waited"] == 0.5 and status_for(raised.value)[0] == 504

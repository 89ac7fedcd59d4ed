"""A nats-server run with the generated authorization lets each service do its job and no more."""

from __future__ import annotations

import asyncio
import os
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import nats
import nkeys
import pytest
from faststream.nats import NatsRouter
from pydantic import SecretStr

from shared import subjects
from shared.bus import Bus, DeadLetterPolicy, Topology, build_broker
from shared.embedded import nats_binary
from shared.messages import (
    AuditRecorded,
    DestroyVm,
    HealthQuery,
    HealthReply,
    PoolMemberRemoved,
    RemovePoolMember,
    TargetDeregistered,
)
from shared.nats_auth import authorization_block, password_variable
from shared.nats_connection import NatsConnection
from shared.subjects import SERVICES
from testkit.nats_cluster import NatsNode, start_nats_node
from testkit.tls import make_pki

pytestmark = pytest.mark.timeout(120)

PREFIX = "authz"


def password(service: str) -> str:
    return f"pw-{service}-7f3a9c"


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[NatsNode]:
    """One JetStream node whose clients must log in as a vmscale service."""
    for service in SERVICES:
        monkeypatch.setenv(password_variable(service), password(service))
    node = start_nats_node(tmp_path, "authz", extra=authorization_block(PREFIX))
    try:
        yield node
    finally:
        node.server.stop()


def bus_of(service: str, node: NatsNode) -> Bus:
    connection = NatsConnection((node.url,), user=service, password=SecretStr(password(service)))
    return build_broker(
        node.url,
        client_name=f"vmscale-{service}",
        topology=Topology(PREFIX),
        policy=DeadLetterPolicy(max_deliver=3, retry_delay_s=0.05, ack_wait_s=5),
        security=connection.security(),
    )


async def test_a_service_publishing_outside_its_rights_is_refused_by_the_server(server: NatsNode) -> None:
    owner = bus_of("inventory", server)
    await owner.connect()  # the streams exist, declared with inventory's rights
    await owner.broker.stop()
    errors: list[str] = []

    async def on_error(exc: Exception) -> None:
        errors.append(str(exc))

    gateway = await nats.connect(server.url, user="gateway", password=password("gateway"), error_cb=on_error)
    wire = Topology(PREFIX).subject(subjects.CMD_VM_DESTROY)
    try:
        with pytest.raises(nats.errors.TimeoutError):  # never stored, so never acknowledged
            await gateway.jetstream().publish(
                wire, DestroyVm(activity_id="a-1", vm_name="web-1").model_dump_json().encode(), timeout=2
            )
        allowed = await gateway.jetstream().publish(Topology(PREFIX).subject(subjects.AUDIT_RECORDED), b"{}", timeout=5)
        info = await gateway.jetstream().stream_info(Topology(PREFIX).commands.name)
    finally:
        await gateway.close()
    assert any(f'permissions violation for publish to "{wire}"' in error.lower() for error in errors), errors
    assert info.state.messages == 0
    assert allowed.seq == 1


async def test_a_wrong_password_is_refused(server: NatsNode) -> None:
    with pytest.raises(nats.errors.Error, match="Authorization Violation"):
        await nats.connect(server.url, user="scaler", password="not-the-password", allow_reconnect=False)


async def test_services_do_their_work_with_only_their_rights(server: NatsNode) -> None:
    scaler, loadbalancer, gateway = bus_of("scaler", server), bus_of("loadbalancer", server), bus_of("gateway", server)
    router = NatsRouter()
    removed: list[str] = []

    @loadbalancer.consumer(router, subjects.CMD_POOL_REMOVE, "loadbalancer")
    async def on_remove(cmd: RemovePoolMember) -> None:
        await loadbalancer.publish(subjects.POOL_MEMBER_REMOVED, PoolMemberRemoved(pool=cmd.pool, name=cmd.name))

    @loadbalancer.responder(router, subjects.health_query("loadbalancer"), "loadbalancer")
    async def on_health(query: HealthQuery) -> HealthReply:
        return HealthReply(service="loadbalancer", healthy=True)

    replies = NatsRouter()
    done = asyncio.Event()

    @scaler.consumer(replies, subjects.POOL_MEMBER_REMOVED, "scaler")
    async def on_removed(event: PoolMemberRemoved) -> None:
        removed.append(event.name)
        done.set()

    loadbalancer.broker.include_router(router)
    scaler.broker.include_router(replies)
    started: list[Bus] = []
    try:
        for bus in (loadbalancer, scaler, gateway):
            await bus.connect()
            await bus.broker.start()
            started.append(bus)
        await scaler.publish(subjects.CMD_POOL_REMOVE, RemovePoolMember(pool="web", name="web-1"))
        await asyncio.wait_for(done.wait(), timeout=30)
        reply = await gateway.request(subjects.health_query("loadbalancer"), HealthQuery(), timeout=10)
    finally:
        for bus in started:
            await bus.broker.stop()
    assert removed == ["web-1"]
    assert isinstance(reply, HealthReply) and reply.healthy


async def test_a_tls_server_is_reached_with_the_ca_file_and_refused_without(tmp_path: Path, prefix: str) -> None:
    pki = make_pki(tmp_path / "pki")
    tls = f'tls {{ cert_file: "{pki.cert}", key_file: "{pki.key}" }}'
    node = start_nats_node(tmp_path, "tls", extra=tls)
    try:
        connection = NatsConnection((node.url,), tls_ca_file=pki.ca)
        bus = build_broker(node.url, client_name="tls-test", topology=Topology(prefix), security=connection.security())
        await bus.connect()
        try:
            await bus.publish(subjects.AUDIT_RECORDED, AuditRecorded(actor="tester", action="tls", target="bus"))
        finally:
            await bus.broker.stop()
        with pytest.raises(ssl.SSLCertVerificationError):
            await nats.connect(node.url, tls=ssl.create_default_context(), allow_reconnect=False)
    finally:
        node.server.stop()


def test_the_compose_nats_configuration_is_accepted_by_nats_server(monkeypatch: pytest.MonkeyPatch) -> None:
    for service in SERVICES:
        monkeypatch.setenv(password_variable(service), password(service))
    config = Path(__file__).resolve().parents[3] / "compose" / "nats" / "nats.conf"
    checked = subprocess.run([nats_binary(), "-t", "-c", str(config)], capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "is valid" in checked.stdout + checked.stderr


async def test_a_service_logs_in_with_an_nkey_seed_and_keeps_only_its_rights(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = nkeys.encode_seed(os.urandom(32), nkeys.PREFIX_BYTE_USER)
    public = nkeys.from_seed(bytearray(raw)).public_key.decode()
    seed_file = tmp_path / "monitoring.nk"
    seed_file.write_bytes(raw + b"\n")
    for service in SERVICES:
        monkeypatch.setenv(password_variable(service), password(service))
    node = start_nats_node(tmp_path, "nkey", extra=authorization_block(PREFIX, nkeys={"monitoring": public}))
    errors: list[str] = []
    try:
        bus = build_broker(
            node.url,
            client_name="vmscale-monitoring",
            topology=Topology(PREFIX),
            security=NatsConnection((node.url,), nkey_seed_file=seed_file).security(),
        )
        await bus.connect()
        try:
            event = TargetDeregistered(job="web", vm_name="web-1", target="127.0.0.1:9100")
            await bus.publish(subjects.MONITORING_DEREGISTERED, event)
        finally:
            await bus.broker.stop()

        refused = asyncio.Event()

        async def on_error(exc: Exception) -> None:
            errors.append(str(exc).lower())
            refused.set()

        nc = await nats.connect(node.url, nkeys_seed=str(seed_file), error_cb=on_error)
        try:
            await nc.publish(Topology(PREFIX).subject(subjects.CMD_VM_DESTROY), b"{}")
            await nc.flush()
            await asyncio.wait_for(refused.wait(), timeout=10)  # the server's -ERR comes asynchronously
        finally:
            await nc.close()
    finally:
        node.server.stop()
    assert any("permissions violation for publish" in error for error in errors), errors

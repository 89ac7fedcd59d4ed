"""Notifications against real receivers on loopback: the generic webhook's HMAC signature checks
out (and an altered or replayed request does not), a Slack-compatible receiver gets its text, a
receiver answering 500 three times gets the notification on the fourth try, a flood of 100
failures yields the rate-limited count; and a gateway on real NATS notifies from the events and
answers the test button. No secret appears in a record, a response or the log."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.gateway.app import create_app
from services.gateway.notify import (
    DeliveryOutcome,
    Notifications,
    NotifyStores,
    SignatureVerifier,
    load_channels,
)
from services.gateway.settings import GatewaySettings
from shared import subjects
from shared.bus import Bus
from shared.clock import SystemClock
from shared.messages import ActivityKind, ActivityRolledBack
from testkit.gateway.fake_scaler import FakeScaler
from tests.integration.gateway.gateway_support import Gateway, gateway_settings
from tests.integration.gateway.notify_support import shared_notify_stores

KEY = "hmac-" + "s" * 32
SLACK_TOKEN = "T000/B000/" + "x" * 24


@dataclass
class Receiver:
    """A loopback HTTP receiver answering each POST with the next scripted status (then 200)."""

    statuses: list[int] = field(default_factory=list)
    requests: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)
    server: asyncio.Server | None = None

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        line, *rest = head.split("\r\n")
        headers = {k.strip(): v.strip() for k, _, v in (h.partition(":") for h in rest if h)}
        body = await reader.readexactly(int(headers.get("content-length", headers.get("Content-Length", "0"))))
        self.requests.append((line.split(" ")[1], headers, body))
        status = self.statuses.pop(0) if self.statuses else 200
        writer.write(f"HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode())
        await writer.drain()
        writer.close()

    async def start(self) -> str:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


@pytest.fixture
async def receivers() -> AsyncIterator[tuple[Receiver, Receiver, str, str]]:
    hook, slack = Receiver(), Receiver()
    hook_url, slack_url = await hook.start(), await slack.start()
    yield hook, slack, hook_url, slack_url
    await hook.stop()
    await slack.stop()


@pytest.fixture
async def stores(redis_url: str, redis_prefix: str, postgres_database: str) -> AsyncIterator[NotifyStores]:
    async with shared_notify_stores(redis_url, f"{redis_prefix}gateway", postgres_database) as shared:
        yield shared


def channels_json(tmp_path: Path, hook_url: str, slack_url: str, **webhook: Any) -> str:
    (tmp_path / "hook-key").write_text(KEY)
    (tmp_path / "slack-url").write_text(f"{slack_url}/services/{SLACK_TOKEN}")
    return json.dumps(
        [
            {
                "name": "ops-hook",
                "type": "webhook",
                "url": f"{hook_url}/vmscale",
                "secret_file": str(tmp_path / "hook-key"),
                "backoff_s": 0,
                **webhook,
            },
            {"name": "ops-slack", "type": "slack", "url_file": str(tmp_path / "slack-url"), "backoff_s": 0},
        ]
    )


def rolled_back(activity: str = "act-1") -> ActivityRolledBack:
    return ActivityRolledBack(
        activity_id=activity,
        group="web",
        kind=ActivityKind.SCALE_OUT,
        failed_step="add_pool_member",
        reason="rolled_back: the pool refused the member",
        duration_s=30,
    )


async def test_a_signed_webhook_and_a_slack_message_reach_their_receivers(
    receivers: tuple[Receiver, Receiver, str, str],
    tmp_path: Path,
    stores: NotifyStores,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    hook, slack, hook_url, slack_url = receivers
    caplog.set_level(logging.DEBUG)
    notes = Notifications(load_channels(channels_json(tmp_path, hook_url, slack_url)), SystemClock())
    notes.start(stores)
    try:
        assert await notes.on_event(rolled_back()) is not None
        await notes.notifier.idle()
    finally:
        await notes.close()
    ((path, headers, body),) = hook.requests
    assert path == "/vmscale" and json.loads(body)["kind"] == "activity_failed"
    verifier = SignatureVerifier(KEY, window_s=300)
    assert verifier.verify(headers, body) is None
    assert verifier.verify(headers, body) == "replayed"
    assert verifier.verify(headers, body.replace(b"rolled", b"r0lled")) == "bad signature"
    ((slack_path, _, slack_body),) = slack.requests
    assert slack_path == f"/services/{SLACK_TOKEN}"
    assert "scale-out of group web rolled back" in json.loads(slack_body)["text"]
    shown = json.dumps([d.model_dump(mode="json") for d in stores.deliveries.recent()]) + json.dumps(
        notes.public_channels()
    )
    # httpx's own request lines name the URL; services hold httpx and httpcore at WARNING
    # (shared.telemetry), so only our loggers' lines reach an operator.
    ours = "\n".join(r.getMessage() + str(r.__dict__) for r in caplog.records if not r.name.startswith("http"))
    ours += capsys.readouterr().out  # structlog's lines, when no handler is configured
    assert "notification channels ready" in ours  # our lines were captured
    for secret in (KEY, SLACK_TOKEN):
        assert secret not in shown and secret not in ours


async def test_a_receiver_answering_500_three_times_gets_it_on_the_fourth_try(
    receivers: tuple[Receiver, Receiver, str, str], tmp_path: Path, stores: NotifyStores
) -> None:
    hook, _, hook_url, slack_url = receivers
    hook.statuses = [500, 500, 500]
    configs = [
        c for c in load_channels(channels_json(tmp_path, hook_url, slack_url, attempts=4)) if c.type == "webhook"
    ]
    notes = Notifications(configs, SystemClock())
    notes.start(stores)
    try:
        (delivery,) = await notes.notifier.notify(await notes.rules.of(rolled_back()))  # type: ignore[arg-type]
    finally:
        await notes.close()
    assert (delivery.outcome, delivery.attempts) == (DeliveryOutcome.SENT, 4)
    assert len(hook.requests) == 4
    assert len({h["X-Vmscale-Delivery"] for _, h, _ in hook.requests}) == 1  # one delivery, four tries


async def test_a_flood_of_100_failures_reaches_the_receiver_as_the_rate_limited_count(
    receivers: tuple[Receiver, Receiver, str, str], tmp_path: Path, stores: NotifyStores
) -> None:
    hook, _, hook_url, slack_url = receivers
    configs = [
        c for c in load_channels(channels_json(tmp_path, hook_url, slack_url, rate_per_min=5)) if c.type == "webhook"
    ]
    notes = Notifications(configs, SystemClock())
    notes.start(stores)
    try:
        for index in range(100):
            await notes.on_event(rolled_back(f"act-{index}"))
        await notes.notifier.idle()
    finally:
        await notes.close()
    outcomes = [d.outcome for d in stores.deliveries.recent(limit=1000)]
    assert len(hook.requests) == 5
    assert (outcomes.count(DeliveryOutcome.SENT), outcomes.count(DeliveryOutcome.RATE_LIMITED)) == (5, 95)


@pytest.fixture
async def notifying_gateway(
    nats_url: str,
    redis_url: str,
    postgres_database: str,
    prefix: str,
    tmp_path: Path,
    js_cleanup: None,
    scaler_bus: Bus,
    receivers: tuple[Receiver, Receiver, str, str],
) -> AsyncIterator[Gateway]:
    _, _, hook_url, slack_url = receivers
    settings = gateway_settings(
        nats_url,
        redis_url,
        postgres_database,
        prefix,
        tmp_path,
        notify_channels=channels_json(tmp_path, hook_url, slack_url),
    )
    app = create_app(settings)
    scaler = FakeScaler(groups={"web": True})
    scaler_bus.broker.include_router(scaler.router(scaler_bus))
    async with app.router.lifespan_context(app):
        await scaler_bus.connect()
        await scaler_bus.broker.start()
        transport = httpx.ASGITransport(app=app, client=("127.0.0.9", 5555))
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            try:
                yield Gateway(app, client, scaler, settings)
            finally:
                await scaler_bus.broker.stop()


async def test_the_gateway_notifies_from_the_bus_and_answers_the_test_button(
    notifying_gateway: Gateway, scaler_bus: Bus, receivers: tuple[Receiver, Receiver, str, str]
) -> None:
    hook, slack, _, _ = receivers
    await scaler_bus.publish(subjects.ACTIVITY_ROLLED_BACK, rolled_back("act-bus"))
    for _ in range(200):
        if hook.requests and slack.requests:
            break
        await asyncio.sleep(0.05)
    assert json.loads(hook.requests[0][2])["details"]["activity_id"] == "act-bus"
    admin = await notifying_gateway.login()
    try:
        tested = await admin.post("/api/v1/notifications/test", params={"channel": "ops-hook"})
        assert tested.status_code == 200, tested.text
        assert [(d["channel"], d["outcome"]) for d in tested.json()["deliveries"]] == [("ops-hook", "sent")]
        assert json.loads(hook.requests[-1][2])["kind"] == "test"
        unknown = await admin.post("/api/v1/notifications/test", params={"channel": "nope"})
        assert unknown.status_code == 404
        channels = await admin.get("/api/v1/notifications/channels")
        deliveries = await admin.get("/api/v1/notifications/deliveries")
    finally:
        await admin.aclose()
    assert {c["name"] for c in channels.json()} == {"ops-hook", "ops-slack"}
    assert [d["outcome"] for d in deliveries.json()["deliveries"]][:1] == ["sent"]
    for body in (channels.text, deliveries.text, tested.text):
        assert KEY not in body and SLACK_TOKEN not in body


# -- two gateway replicas ----------------------------------------------------------------------


@contextlib.asynccontextmanager
async def replicas(count: int, settings: GatewaySettings) -> AsyncIterator[list[Gateway]]:
    """``count`` gateway apps over one NATS, Redis and database, as replicas behind a balancer."""
    async with contextlib.AsyncExitStack() as stack:
        gateways = []
        for _ in range(count):
            app = create_app(settings)
            await stack.enter_async_context(app.router.lifespan_context(app))
            gateways.append(Gateway(app, httpx.AsyncClient(), FakeScaler(), settings))
        yield gateways


async def recorded(gateways: list[Gateway], count: int) -> list[str]:
    """The outcomes recorded once ``count`` deliveries are, and the replicas fell quiet."""
    log = gateways[0].state.notifications.notifier.deliveries  # type: ignore[union-attr]
    for _ in range(400):
        if len(await asyncio.to_thread(log.recent, 1000)) >= count:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)  # grace for a second copy of an event on the other replica
    for gateway in gateways:
        await gateway.state.notifications.notifier.idle()  # type: ignore[union-attr]
    return [d.outcome.value for d in await asyncio.to_thread(log.recent, 1000)]


def handled(gateway: Gateway) -> float:
    """How many deliveries this replica recorded (its own ``vmscale_notifications_total``)."""
    metric = gateway.state.registry.get_sample_value
    return sum(
        metric("vmscale_notifications_total", {"channel": "ops-hook", "outcome": o.value}) or 0 for o in DeliveryOutcome
    )


@pytest.fixture
def replica_settings(
    nats_url: str,
    redis_url: str,
    postgres_database: str,
    prefix: str,
    tmp_path: Path,
    js_cleanup: None,
    receivers: tuple[Receiver, Receiver, str, str],
) -> Callable[..., GatewaySettings]:
    _, _, hook_url, slack_url = receivers

    def make(**webhook: Any) -> GatewaySettings:
        hook_only = [
            c for c in json.loads(channels_json(tmp_path, hook_url, slack_url, **webhook)) if c["type"] == "webhook"
        ]
        return gateway_settings(
            nats_url, redis_url, postgres_database, prefix, tmp_path, notify_channels=json.dumps(hook_only)
        )

    return make


async def test_two_replicas_send_each_failure_once_and_dedup_across_them(
    replica_settings: Callable[..., GatewaySettings],
    scaler_bus: Bus,
    receivers: tuple[Receiver, Receiver, str, str],
) -> None:
    hook = receivers[0]
    async with replicas(2, replica_settings(rate_per_min=1000)) as gateways:
        await scaler_bus.connect()
        for index in range(30):
            await scaler_bus.publish(subjects.ACTIVITY_ROLLED_BACK, rolled_back(f"act-{index}"))
        for _ in range(10):  # one episode told ten times: sent once, whichever replica gets each copy
            await scaler_bus.publish(subjects.ACTIVITY_ROLLED_BACK, rolled_back("act-again"))
        outcomes = await recorded(gateways, 40)
        assert (outcomes.count("sent"), outcomes.count("deduplicated"), len(outcomes)) == (31, 9, 40)
        assert len(hook.requests) == 31
        assert sorted(json.loads(body)["details"]["activity_id"] for _, _, body in hook.requests) == sorted(
            [f"act-{i}" for i in range(30)] + ["act-again"]
        )
        assert all(handled(g) > 0 for g in gateways) and sum(handled(g) for g in gateways) == 40  # both worked


async def test_the_rate_limit_counts_across_replicas_and_the_record_outlives_them(
    replica_settings: Callable[..., GatewaySettings],
    scaler_bus: Bus,
    receivers: tuple[Receiver, Receiver, str, str],
) -> None:
    hook = receivers[0]
    settings = replica_settings(rate_per_min=5)
    async with replicas(2, settings) as gateways:
        await scaler_bus.connect()
        for index in range(40):
            await scaler_bus.publish(subjects.ACTIVITY_ROLLED_BACK, rolled_back(f"flood-{index}"))
        outcomes = await recorded(gateways, 40)
        assert (outcomes.count("sent"), outcomes.count("rate_limited")) == (5, 35)
        assert len(hook.requests) == 5
        assert all(handled(g) > 0 for g in gateways)
    async with replicas(1, settings) as (restarted,):
        admin = await restarted.login()
        try:
            limited = await admin.get(
                "/api/v1/notifications/deliveries", params={"outcome": "rate_limited", "limit": 500}
            )
            sent = await admin.get(
                "/api/v1/notifications/deliveries", params={"outcome": "sent", "channel": "ops-hook"}
            )
            bad = await admin.get("/api/v1/notifications/deliveries", params={"outcome": "lost"})
        finally:
            await admin.aclose()
    assert limited.status_code == 200 and len(limited.json()["deliveries"]) == 35
    rows = sent.json()["deliveries"]
    assert len(rows) == 5 and {(d["channel"], d["kind"], d["group"], d["attempts"]) for d in rows} == {
        ("ops-hook", "activity_failed", "web", 1)
    }
    assert [d["at"] for d in rows] == sorted((d["at"] for d in rows), reverse=True)
    assert bad.status_code == 422 and "outcome" in bad.text
    assert KEY not in limited.text and "/vmscale" not in limited.text

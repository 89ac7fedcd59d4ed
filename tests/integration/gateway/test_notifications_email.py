"""The e-mail channel against an SMTP server on loopback: the message arrives over STARTTLS with
the right subject and body after a login; a server without STARTTLS gets nothing (and no
password); a refused login is a failed delivery that says why, without retries."""

from __future__ import annotations

import json
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from lab.lab_ca import LabCa, make_lab_ca
from services.gateway.notify import DeliveryOutcome, Notifications, NotifyStores, load_channels
from shared.clock import SystemClock
from shared.messages import ActivityKind, ActivityRolledBack
from tests.integration.gateway.notify_support import shared_notify_stores
from tests.integration.gateway.smtp_receiver import SmtpReceiver

PASSWORD = "smtp-" + "p" * 24


@pytest.fixture
def ca(tmp_path: Path) -> LabCa:
    return make_lab_ca(tmp_path / "ca")


def server_tls(ca: LabCa) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(ca.cert_file, ca.key_file)
    return context


@pytest.fixture
async def smtp(ca: LabCa) -> AsyncIterator[tuple[SmtpReceiver, int]]:
    receiver = SmtpReceiver(server_tls(ca), password=PASSWORD)
    port = await receiver.start()
    yield receiver, port
    await receiver.stop()


def email_channel(tmp_path: Path, ca: LabCa, port: int, password: str = PASSWORD) -> Notifications:
    (tmp_path / "smtp-password").write_text(password)
    config = {
        "name": "ops-mail",
        "type": "email",
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "smtp_ca_file": str(ca.ca_file),
        "smtp_username": "vmscale",
        "smtp_password_file": str(tmp_path / "smtp-password"),
        "mail_from": "vmscale@lab.invalid",
        "mail_to": ["ops@lab.invalid", "oncall@lab.invalid"],
        "attempts": 2,
        "backoff_s": 0,
    }
    return Notifications(load_channels(json.dumps([config])), SystemClock())


def rolled_back() -> ActivityRolledBack:
    return ActivityRolledBack(
        activity_id="act-mail",
        group="web",
        kind=ActivityKind.SCALE_OUT,
        failed_step="clone",
        reason="rolled_back: the datastore is full",
        duration_s=65,
    )


@pytest.fixture
async def stores(redis_url: str, redis_prefix: str, postgres_database: str) -> AsyncIterator[NotifyStores]:
    async with shared_notify_stores(redis_url, f"{redis_prefix}gateway", postgres_database) as shared:
        yield shared


async def send(notes: Notifications, stores: NotifyStores) -> list:
    notes.start(stores)
    try:
        notification = await notes.rules.of(rolled_back())
        assert notification is not None
        return await notes.notifier.notify(notification)
    finally:
        await notes.close()


async def test_the_message_arrives_over_starttls_with_its_subject_and_body(
    smtp: tuple[SmtpReceiver, int], ca: LabCa, tmp_path: Path, stores: NotifyStores
) -> None:
    receiver, port = smtp
    (delivery,) = await send(email_channel(tmp_path, ca, port), stores)
    assert delivery.outcome is DeliveryOutcome.SENT, delivery.reason
    (got,) = receiver.messages
    assert got.encrypted and got.user == "vmscale"
    assert got.sender == "vmscale@lab.invalid" and got.recipients == ["ops@lab.invalid", "oncall@lab.invalid"]
    assert got.message["Subject"] == "[vmscale] WARNING: scale-out of group web rolled back"
    body = got.message.get_payload(decode=True).decode()
    assert "Step clone failed after 65 s: rolled_back: the datastore is full" in body
    assert "activity_id: act-mail" in body and "group: web" in body
    assert receiver.logins == [("vmscale", True)]  # the password crossed only the encrypted channel
    assert PASSWORD not in delivery.model_dump_json()


async def test_a_server_without_starttls_gets_no_message_and_no_password(
    ca: LabCa, tmp_path: Path, stores: NotifyStores
) -> None:
    receiver = SmtpReceiver(server_tls(ca), password=PASSWORD, offer_starttls=False)
    port = await receiver.start()
    try:
        (delivery,) = await send(email_channel(tmp_path, ca, port), stores)
    finally:
        await receiver.stop()
    assert delivery.outcome is DeliveryOutcome.FAILED and "does not offer STARTTLS" in delivery.reason
    assert delivery.attempts == 1
    assert receiver.messages == [] and receiver.logins == []


async def test_a_refused_login_fails_the_delivery_at_once_and_says_why(
    smtp: tuple[SmtpReceiver, int], ca: LabCa, tmp_path: Path, stores: NotifyStores
) -> None:
    receiver, port = smtp
    (delivery,) = await send(email_channel(tmp_path, ca, port, password="wrong"), stores)
    assert (delivery.outcome, delivery.attempts) == (DeliveryOutcome.FAILED, 1)
    assert "refused the login (535)" in delivery.reason
    assert receiver.messages == []

"""Notifications in headless Chromium: the screen lists the channels (never their URL or key) and
the recent deliveries; "Send test" reaches a real loopback receiver and the delivery shows up,
sent or failed with why; Korean names the screen."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from playwright.async_api import Page, expect

if TYPE_CHECKING:  # the fixture's type; conftest is pytest's to import
    from tests.ui.conftest import RunningGateway

KEY = "ui-hmac-" + "k" * 32


class Receiver:
    """A loopback HTTP receiver: each POST is kept and answered with ``status``."""

    def __init__(self, status: int) -> None:
        self.status = status
        self.bodies: list[bytes] = []
        self.server: asyncio.Server | None = None

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        headers = {k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in head.split("\r\n")[1:] if x)}
        self.bodies.append(await reader.readexactly(int(headers.get("content-length", "0"))))
        writer.write(f"HTTP/1.1 {self.status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode())
        await writer.drain()
        writer.close()

    async def start(self) -> str:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


@pytest.fixture
async def receivers() -> AsyncIterator[tuple[Receiver, Receiver, str, str]]:
    good, bad = Receiver(200), Receiver(400)  # 400: not retried, so the failure shows at once
    good_url, bad_url = await good.start(), await bad.start()
    yield good, bad, good_url, bad_url
    await good.stop()
    await bad.stop()


@pytest.fixture
def gateway_overrides(tmp_path: Path, receivers: tuple[Receiver, Receiver, str, str]) -> dict[str, Any]:
    _, _, good_url, bad_url = receivers
    (tmp_path / "hook-key").write_text(KEY)
    channels = [
        {"name": "ops-hook", "type": "webhook", "url": f"{good_url}/in", "secret_file": str(tmp_path / "hook-key")},
        {"name": "broken-hook", "type": "webhook", "url": f"{bad_url}/in", "backoff_s": 0},
    ]
    return {"notify_channels": json.dumps(channels)}


async def test_the_channels_are_listed_and_the_test_button_reaches_a_real_receiver(
    signed_in: Page, gateway: RunningGateway, receivers: tuple[Receiver, Receiver, str, str], screenshots: Path
) -> None:
    good, bad, good_url, _ = receivers
    page = signed_in
    await page.goto(f"{gateway.url}/ui/#/notifications")
    await expect(page.locator("main h1")).to_have_text("Notifications")
    channels = page.locator("#nt-channels tbody tr")
    await expect(channels).to_have_count(2)
    hook = page.locator('#nt-channels tr[data-channel="ops-hook"]')
    await expect(hook).to_contain_text("webhook · signed")
    await expect(hook).to_contain_text("127.0.0.1")
    await expect(hook).to_contain_text("groups: All")
    assert good_url not in await page.content() and KEY not in await page.content()
    await expect(page.locator("#nt-deliveries")).to_contain_text("Nothing has been sent yet.")

    await hook.locator("button", has_text="Send test").click()
    await expect(page.locator(".toast", has_text="Test on ops-hook: sent")).to_have_count(1)
    assert len(good.bodies) == 1 and json.loads(good.bodies[0])["kind"] == "test"
    rows = page.locator("#nt-deliveries tbody tr")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text("ops-hook")
    await expect(rows.first).to_contain_text("sent")

    broken = page.locator('#nt-channels tr[data-channel="broken-hook"]')
    await broken.locator("button", has_text="Send test").click()
    await expect(page.locator(".toast.bad", has_text="Test on broken-hook: failed")).to_have_count(1)
    assert len(bad.bodies) == 1
    await expect(rows).to_have_count(2)
    await expect(rows.first).to_contain_text("400")
    await page.screenshot(path=screenshots / "notifications.png", full_page=True)


async def test_the_notifications_screen_speaks_korean(signed_in: Page, gateway: RunningGateway) -> None:
    page = signed_in
    await page.goto(f"{gateway.url}/ui/#/notifications")
    await page.click("#lang")
    await expect(page.locator("main h1")).to_have_text("알림")
    await expect(page.locator('.menu a[href="#/notifications"]')).to_have_text("알림")
    await expect(page.locator("#nt-channels tbody tr button").first).to_have_text("테스트 전송")
    await expect(page.locator("#nt-deliveries")).to_contain_text("아직 보낸 알림이 없습니다.")

"""A gateway served over real HTTP on loopback with stand-in backends, and headless Chromium."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from playwright.async_api import Browser, Page, async_playwright, expect

from services.gateway.app import create_app
from services.gateway.settings import GatewaySettings
from shared.bus import Bus, Topology, build_broker
from shared.embedded import free_port
from testkit.gateway.fake_backends import FakeBackends
from testkit.gateway.fake_scaler import FakeScaler

ADMIN_PASSWORD = "ui test password 42"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

# what the page shows may take a loaded CI box longer than Playwright's default 5 s; never a speed check
expect.set_options(timeout=15_000)


@dataclass
class RunningGateway:
    """The served gateway."""

    url: str
    scaler: FakeScaler
    bus: Bus
    app: object
    backends: FakeBackends


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where screenshots go (``UI_SCREENSHOTS`` or the test run's temporary directory)."""
    target = Path(os.environ.get("UI_SCREENSHOTS") or tmp_path_factory.getbasetemp() / "screenshots")
    target.mkdir(parents=True, exist_ok=True)
    return target


@pytest.fixture
def gateway_overrides() -> dict[str, Any]:
    """Extra gateway settings; a test module overrides this fixture to configure e.g. notifications."""
    return {}


@pytest.fixture
async def gateway(
    nats_url: str,
    redis_url: str,
    postgres_database: str,
    prefix: str,
    tmp_path: Path,
    js_cleanup: None,
    gateway_overrides: dict[str, Any],
) -> AsyncIterator[RunningGateway]:
    settings = GatewaySettings(
        nats_url=nats_url,
        redis_url=redis_url,
        database_url=postgres_database,
        subject_prefix=prefix,
        state_dir=tmp_path,
        webhook_token="ui-" + "w" * 40,
        initial_admin_password=ADMIN_PASSWORD,
        backend_timeout_s=5.0,  # stand-ins answer at once unless the box is loaded; no test waits on a timeout
        **gateway_overrides,
    )
    app = create_app(settings)
    bus = build_broker(nats_url, client_name="ui-backends", topology=Topology(prefix))
    scaler = FakeScaler(groups={"web": True})
    scaler.specs["web"] = {
        "name": "web",
        "min_size": 2,
        "max_size": 4,
        "template": "ubuntu-22-template",
        "thresholds": {"cpu_high": 80, "memory_high": 80, "cpu_low": 30, "memory_low": 30},
    }
    bus.broker.include_router(scaler.router(bus))
    backends = FakeBackends()
    bus.broker.include_router(backends.router(bus))
    port = free_port()
    async with app.router.lifespan_context(app):
        await bus.connect()
        await bus.broker.start()
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_config=None))
        task = asyncio.create_task(server.serve())
        for _ in range(500):
            if server.started:
                break
            await asyncio.sleep(0.02)
        try:
            async with backends.heartbeats(bus):  # the services beat, so the System screen shows them alive
                yield RunningGateway(f"http://127.0.0.1:{port}", scaler, bus, app, backends)
        finally:
            server.should_exit = True
            server.force_exit = True
            await asyncio.wait_for(task, timeout=10)
            await bus.broker.stop()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            await chromium.close()


@pytest.fixture
async def page(browser: Browser, gateway: RunningGateway) -> AsyncIterator[Page]:
    context = await browser.new_context(viewport={"width": 1440, "height": 900}, locale="en-GB")
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    await context.close()
    assert errors == [], f"JavaScript errors: {errors}"


@pytest.fixture
async def signed_in(page: Page, gateway: RunningGateway) -> Page:
    """A page signed in as the first admin, on the groups screen."""
    await page.goto(f"{gateway.url}/ui/")
    await page.fill("#username", "admin")
    await page.fill("#password", ADMIN_PASSWORD)
    await page.click("#login-form button[type=submit]")
    await page.wait_for_selector("#menu:not([hidden])")
    return page

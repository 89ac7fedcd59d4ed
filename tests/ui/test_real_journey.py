"""The operator's main journey in headless Chromium against the real system, not stand-ins: the lab
(vcsim, Prometheus, Alertmanager, HAProxy, SSH, VM agents) and all five services started as
``vmscale run all`` starts them. Template, Node Exporter and the Prometheus job are prepared through
the API (their screens have their own tests); then, in the browser only: log in, create an IP pool,
create a group with invalid values (the real scaler's messages on their fields) then valid ones,
enable it, raise the load with the lab's ``load`` command, watch the scale-out arrive live on the
group page, set desired to min with a reason, watch the scale-in, and switch to Korean and back."""

from __future__ import annotations

import asyncio
import re
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from lab.environment import admin_password_file
from lab.sshd import base_vm_addresses
from lab.system import System, free_lab_config, wait_until
from shared import subjects
from shared.embedded import free_port
from testkit.servers import delete_streams, fresh_database

pytestmark = pytest.mark.timeout(1500)

ROOT = Path(__file__).resolve().parents[2]
GROUP = JOB = "web"
TEMPLATE = "tpl-web-ui"
LIVE_S = 300_000  # ms: an alert's "for", Alertmanager's group wait and a clone in vcsim, on a shared box


@pytest.fixture(scope="module")
def system(
    tmp_path_factory: pytest.TempPathFactory, nats_url: str, redis_url: str, postgres_url: str
) -> Iterator[System]:
    """The lab and the services on free ports, with a template, Node Exporter on the two base VMs
    and both registered in the Prometheus job ``web``."""
    tmp = tmp_path_factory.mktemp("ui-real")
    with fresh_database(postgres_url, "ui") as database_url:
        prefix = "ui" + uuid.uuid4().hex[:8]
        env = {"NATS_URL": nats_url, "REDIS_URL": redis_url, "DATABASE_URL": database_url, "SUBJECT_PREFIX": prefix}
        running = System(
            config=free_lab_config(tmp / "lab"),
            state_dir=tmp / "state",
            env={**env, "HEARTBEAT_INTERVAL_S": "1", "LOG_LEVEL": "INFO"},
            gateway_port=free_port(),
        )
        try:
            running.start()
            prepare(running)
            yield running
        finally:
            running.stop()
            asyncio.run(delete_streams(nats_url, prefix))


def prepare(system: System) -> None:
    """Template, Node Exporter and the job, through the API (as scenario 1 of the e2e tier does)."""
    api, cfg = system.api, system.config
    assert api is not None
    api.post("/api/v1/templates", {"vm_name": "web-1", "template_name": TEMPLATE, "description": "ui"}, expect=202)
    wait_until(
        lambda: TEMPLATE in {t["vm"]["name"] for t in api.get("/api/v1/templates") if t["vm"]["template"]},
        120,
        "the template",
    )
    base = [(f"web-{n}", address) for n, address in enumerate(base_vm_addresses(cfg), 1)]
    hosts = [{"vm_name": name, "address": ip, "port": cfg.sshd_port} for name, ip in base]
    batch = api.post("/api/v1/agents", {"tool": "node_exporter", "action": "install", "hosts": hosts}, expect=202)

    def installed() -> list[Any]:
        found = api.get("/api/v1/events", params={"limit": 500})
        return [
            e
            for e in found
            if e["subject"] == subjects.MONITORING_AGENTS_INSTALLED.name
            and batch["batch_id"] in (e["data"].get("batch_id"), e["data"].get("correlation_id"))
        ]

    wait_until(installed, 180, "Node Exporter on the base VMs")
    targets = [{"vm_name": name, "address": ip, "port": cfg.agent_port} for name, ip in base]
    api.post(f"/api/v1/prometheus/jobs/{JOB}/targets", targets, expect=202)

    def scraped() -> bool:
        found = api.get("/api/v1/prometheus/targets", params={"job": JOB})["targets"]
        return len([t for t in found if t["health"] == "up"]) == 2

    wait_until(scraped, 120, "both base VMs scraped")


async def lab_load(system: System, vm: str, cpu: float, memory: float) -> None:
    """``vmscale lab load <vm> --cpu … --memory …``: the lab's own command."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cli", "lab", "load", vm, "--cpu", str(cpu), "--memory", str(memory),
        "--lab-dir", str(system.config.lab_dir), cwd=ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await process.communicate()
    assert process.returncode == 0, output.decode()


def group(system: System) -> dict[str, Any]:
    """The group as the API shows it."""
    assert system.api is not None
    return dict(system.api.get(f"/api/v1/groups/{GROUP}")["group"])


async def signed_in_page(browser: Browser, system: System) -> Page:
    context = await browser.new_context(viewport={"width": 1440, "height": 900}, locale="en-GB")
    page = await context.new_page()
    await page.goto(f"{system.url}/ui/")
    await page.fill("#username", "admin")
    await page.fill("#password", admin_password_file(system.config).read_text().strip())
    await page.click("#login-form button[type=submit]")
    await page.wait_for_selector("#menu:not([hidden])")
    return page


async def test_an_operator_sets_up_a_group_in_the_ui_and_watches_it_scale_out_and_in(
    browser: Browser, system: System, screenshots: Path
) -> None:
    cfg = system.config
    page = await signed_in_page(browser, system)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    shot = screenshots / "real"
    shot.mkdir(exist_ok=True)

    # an IP pool
    await page.click('.menu a[href="#/ip-pools"]')
    await page.click("#new-pool")
    await page.fill("#pool-name", "web")
    await page.fill("#pool-network", "127.0.20.0/24")
    await page.fill("#pool-gateway", "127.0.20.1")
    await page.fill("#pool-ranges", "127.0.20.100-127.0.20.119")
    await page.click("#pool-save")
    await expect(page.locator('tr[data-pool="web"]')).to_contain_text("0 of 20 in use")
    await page.screenshot(path=shot / "01-ip-pool.png", full_page=True)

    # the group: invalid first (the real scaler's words on the field), then valid
    await page.click('.menu a[href="#/groups"]')
    await page.click("#new-group")
    values = {
        "name": GROUP, "vm_prefix": GROUP, "template": TEMPLATE, "prometheus_job": JOB, "min_size": "5",
        "max_size": "2", "pool": "web", "vip": cfg.host, "vip_port": str(cfg.haproxy_frontend_port),
        "member_port": str(cfg.app_port), "monitoring_port": str(cfg.agent_port), "ip_pool": "web",
        "thresholds.cpu_high": "70", "thresholds.memory_high": "90", "thresholds.out_for_s": str(5 / 60),
        "thresholds.cpu_low": "20", "thresholds.memory_low": "40", "thresholds.in_for_s": str(10 / 60),
        "scale_out_cooldown_s": "10", "scale_in_cooldown_s": "10", "drain_timeout_s": "5",
    }  # fmt: skip
    for name, value in values.items():
        await page.fill(f'[name="{name}"]', value)
        if name == "vip":  # picking the virtual server fills its port in (on change): let it, then type ours
            await page.press('[name="vip"]', "Tab")
    await page.click("#group-save")
    await expect(page.locator('.field[data-field="min_size"] .error')).to_have_text("min_size must not exceed max_size")
    await page.screenshot(path=shot / "02-group-invalid.png", full_page=True)
    await page.fill('[name="min_size"]', "2")
    await page.fill('[name="max_size"]', "4")
    await page.click("#group-save")
    await expect(page.locator("main h1")).to_have_text(GROUP)
    spec = group(system)["spec"]
    assert spec["thresholds"]["out_for_s"] == 5 and spec["scale_in_cooldown_s"] == 10

    # enable it: the alert rules are provisioned
    await page.click('.menu a[href="#/groups"]')
    await page.click(f'button[data-action="toggle"][data-group="{GROUP}"]')
    await expect(page.locator(f'tr[data-group="{GROUP}"] .badge').first).to_have_text("enabled")
    await asyncio.to_thread(
        wait_until, lambda: group(system)["alerts_status"] == "provisioned", 120, "alerts provisioned"
    )
    await page.goto(f"{system.url}/ui/#/group/{GROUP}")
    await expect(page.locator("#group-summary")).to_contain_text("alerts: provisioned")
    await expect(page.locator("#health .notice")).to_have_count(0)

    # load: the scale-out arrives on the open page by itself
    for vm in ("web-1", "web-2"):
        await lab_load(system, vm, cpu=95, memory=20)
    activities = page.locator("#group-activities tbody tr")
    await expect(activities.filter(has_text="scale_out").filter(has_text="succeeded").first).to_be_visible(
        timeout=LIVE_S
    )
    await page.screenshot(path=shot / "03-scaled-out.png", full_page=True)
    assert system.api is not None
    grown = [i["vm_name"] for i in system.api.get(f"/api/v1/groups/{GROUP}/instances")["instances"] if not i["base"]]
    assert grown
    for vm in ["web-1", "web-2", *grown]:  # between the thresholds: neither alert fires
        await lab_load(system, vm, cpu=45, memory=60)
    await page.reload()
    await expect(page.locator("#group-activities tbody tr").filter(has_text="running")).to_have_count(0, timeout=LIVE_S)

    # set desired to min, with a reason: the scale-in arrives
    await page.reload()
    await page.fill("#desired", "2")
    await page.fill("#scale-reason", "ui journey: back to min")
    await page.click("#set-desired-go")
    await page.click("#confirm-ok")
    await expect(
        page.locator("#group-activities tbody tr").filter(has_text="scale_in").filter(has_text="succeeded").first
    ).to_be_visible(timeout=LIVE_S)
    await expect(page.locator("#group-summary")).to_contain_text(re.compile(r"^Size 2 \("), timeout=LIVE_S)
    await expect(page.locator("#last-done")).to_contain_text("manual:admin")
    await page.screenshot(path=shot / "04-scaled-in.png", full_page=True)

    # Korean and back
    await page.click("#lang")
    await expect(page.locator("#group-summary")).to_contain_text("VM 2대")
    await expect(page.locator("#last-done h2")).to_have_text("마지막으로 실제로 한 일은?")
    await page.screenshot(path=shot / "05-korean.png", full_page=True)
    await page.click("#lang")
    await expect(page.locator("#last-done h2")).to_have_text("What did it last actually do?")
    assert errors == [], errors
    await page.context.close()

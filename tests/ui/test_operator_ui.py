"""The operator UI in headless Chromium: log in, every screen, a group created (invalid, then
valid) and enabled, an event arriving live, Korean and back. Screenshots go to the run's output."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Page, expect

from shared import subjects
from shared.messages import TargetRegistered, TemplateCreated, VmProgress

SCREENS = [
    ("templates", "Templates"),
    ("agents", "Node Exporter install"),
    ("monitoring", "Monitoring registration"),
    ("groups", "Autoscaling groups"),
    ("routing", "Alertmanager routing"),
    ("dashboard", "Monitoring dashboard"),
    ("events", "Scaling events"),
    ("users", "Users & API keys"),
    ("audit", "Audit log"),
    ("status", "System status"),
    ("dead-letters", "Dead letters"),
    ("group/web", "web"),
]


async def test_a_wrong_password_is_refused_and_the_right_one_signs_in(page: Page, gateway, screenshots: Path) -> None:
    await page.goto(f"{gateway.url}/ui/")
    await page.fill("#username", "admin")
    await page.fill("#password", "not the password")
    await page.click("#login-form button[type=submit]")
    await expect(page.locator("#login-error")).to_have_text("Wrong user name or password")
    await page.screenshot(path=screenshots / "00-login-failed.png")
    await page.fill("#password", "ui test password 42")
    await page.click("#login-form button[type=submit]")
    await expect(page.locator("#whoami")).to_have_text("admin · admin")
    cookies = {c["name"]: c for c in await page.context.cookies()}
    assert cookies["vmscale_session"]["httpOnly"] and cookies["vmscale_session"]["sameSite"] == "Strict"


@pytest.mark.parametrize(("route", "heading"), SCREENS, ids=[r for r, _ in SCREENS])
async def test_every_screen_renders(signed_in: Page, gateway, screenshots: Path, route: str, heading: str) -> None:
    page = signed_in
    await page.goto(f"{gateway.url}/ui/#/{route}")
    await expect(page.locator("main h1").first).to_have_text(heading)
    await page.wait_for_load_state("networkidle")
    await page.screenshot(path=screenshots / f"screen-{route.replace('/', '-')}.png", full_page=True)


async def test_the_dashboard_charts_each_instance_from_prometheus(signed_in: Page, gateway, screenshots: Path) -> None:
    page = signed_in
    await page.goto(f"{gateway.url}/ui/#/dashboard")
    charts = page.locator("#instance-charts .instance-chart")
    await expect(charts.first).to_be_visible()
    assert await charts.count() >= 1
    # a flat line has no height, so check the drawn points rather than "visibility"
    await expect(charts.first.locator("svg polyline").first).to_have_attribute("points", re.compile(r"\d+(\.\d+)?,\d"))
    # now = the highest instance's latest value (the stand-in's VMs are at 20/30 % CPU, 35 % memory)
    await expect(charts.locator(".legend")).to_have_count(await charts.count())  # each chart says what its lines are
    stats = page.locator("#dash-stats")
    await expect(stats.locator(".card", has_text="CPU now")).to_contain_text("30.0%")
    await expect(stats.locator(".card", has_text="Memory now")).to_contain_text("35.0%")
    await page.screenshot(path=screenshots / "dashboard-instances.png", full_page=True)


async def test_the_group_page_says_what_the_scaler_would_decide_now(
    signed_in: Page, gateway, screenshots: Path
) -> None:
    page = signed_in
    await page.goto(f"{gateway.url}/ui/#/group/web")
    card = page.locator("#dry-run")
    await expect(card.locator("h2")).to_have_text("What would it decide now, and why?")
    await expect(card.locator("tbody tr")).to_have_count(2)
    await expect(card).to_contain_text("web_HighResourceUsage")
    await page.screenshot(path=screenshots / "group-dry-run.png", full_page=True)


async def test_a_group_is_created_with_the_apis_messages_shown_then_enabled(
    signed_in: Page, gateway, screenshots: Path
) -> None:
    page = signed_in
    await page.goto(f"{gateway.url}/ui/#/groups/new")
    await page.click("#group-save")
    await expect(page.locator('.field[data-field="name"] .error')).to_have_text("Required")
    values = {
        "name": "shop",
        "vm_prefix": "shop",
        "template": "ubuntu-22-template",
        "prometheus_job": "shop",
        "min_size": "5",
        "max_size": "2",
        "pool": "web-pool",
        "vip": "127.0.10.100",
        "ip_pool": "lab",
    }
    for name, value in values.items():
        await page.fill(f'[name="{name}"]', value)
    await page.click("#group-save")
    error = page.locator('.field[data-field="min_size"] .error')
    await expect(error).to_have_text("min_size must not exceed max_size")
    await expect(page.locator("#form-summary")).to_be_visible()
    await page.screenshot(path=screenshots / "group-form-invalid.png", full_page=True)
    assert "shop" not in gateway.scaler.groups

    await page.fill('[name="max_size"]', "6")
    await page.click("#group-save")
    await expect(page.locator("main h1")).to_have_text("shop")
    await expect(page.locator(".toast").first).to_contain_text("Group shop created")
    assert gateway.scaler.specs["shop"]["thresholds"]["out_for_s"] == 300

    await page.goto(f"{gateway.url}/ui/#/groups")
    toggle = page.locator('button[data-action="toggle"][data-group="shop"]')
    await expect(toggle).to_have_text("Enable")
    await toggle.click()
    await expect(page.locator('tr[data-group="shop"] .badge')).to_have_text("enabled")
    assert gateway.scaler.groups["shop"] is True
    await page.screenshot(path=screenshots / "groups-enabled.png", full_page=True)


async def scale_web_out_with_the_events_screen_open(page: Page, gateway) -> str:
    """Open the events screen with its live feed on, ask for one more ``web`` VM; the activity id."""
    await page.goto(f"{gateway.url}/ui/#/events")
    await expect(page.locator("#live.on")).to_be_visible()
    cookies = {c["name"]: c["value"] for c in await page.context.cookies()}
    async with httpx.AsyncClient(base_url=gateway.url, cookies=cookies) as client:
        response = await client.post(
            "/api/v1/groups/web/scale", json={"delta": 1}, headers={"X-CSRF-Token": cookies["vmscale_csrf"]}
        )
    assert response.status_code == 200, response.text
    return str(response.json()["decision"]["activity_id"])


async def test_an_event_arrives_live_on_the_events_screen(signed_in: Page, gateway, screenshots: Path) -> None:
    page = signed_in
    await scale_web_out_with_the_events_screen_open(page, gateway)
    started = page.locator(f'#live-events li[data-subject="{subjects.ACTIVITY_STARTED.name}"]')
    await expect(started).to_have_count(1)
    await expect(page.locator("#timeline li").first).to_contain_text("web · scale_out")
    await page.screenshot(path=screenshots / "events-live.png", full_page=True)


async def test_korean_is_switched_in_the_header_remembered_and_switched_back(
    signed_in: Page, gateway, screenshots: Path
) -> None:
    page = signed_in
    await page.goto(f"{gateway.url}/ui/#/groups")
    await page.click("#lang")
    await expect(page.locator('.menu a[href="#/templates"]')).to_have_text("템플릿")
    await expect(page.locator("main h1")).to_have_text("오토스케일링 그룹")
    await page.reload()
    await expect(page.locator('.menu a[href="#/groups"]')).to_have_text("오토스케일링 그룹")
    await page.screenshot(path=screenshots / "groups-korean.png", full_page=True)
    await page.goto(f"{gateway.url}/ui/#/events")
    await page.screenshot(path=screenshots / "events-korean.png", full_page=True)
    await page.click("#lang")
    await expect(page.locator('.menu a[href="#/templates"]')).to_have_text("Templates")


async def test_the_system_screen_lists_each_external_system_with_its_state_and_latency(
    signed_in: Page, gateway, screenshots: Path
) -> None:
    page = signed_in
    await page.goto(f"{gateway.url}/ui/#/status")
    for name, owner in (("vCenter", "inventory"), ("F5 BIG-IP", "loadbalancer"), ("Prometheus", "monitoring")):
        row = page.locator("tr", has=page.locator("td", has_text=re.compile(f"^{name}$")))
        await expect(row).to_contain_text(owner)
        await expect(row.locator(".badge")).to_have_text("ok")
        await expect(row).to_contain_text(re.compile(r"\d ms"))
    jenkins = page.locator("tr", has=page.locator("td", has_text=re.compile("^Jenkins$")))
    await expect(jenkins.locator(".badge")).to_have_text("not configured")
    await page.screenshot(path=screenshots / "status-systems.png", full_page=True)


async def test_a_running_activity_shows_its_progress_and_the_clone_moves_it(
    signed_in: Page, gateway, screenshots: Path
) -> None:
    page = signed_in
    activity_id = await scale_web_out_with_the_events_screen_open(page, gateway)
    item = page.locator(f'#timeline li[data-activity="{activity_id}"]')
    # reserve_ip done and the hook skipped: 2 of the scale-out's 8 steps
    await expect(item.locator(".meter-label")).to_have_text("2 of 8 steps")
    await expect(item.locator("[role=progressbar]")).to_have_attribute("aria-valuenow", "25")
    # drawn, not only announced: the page's CSP drops style attributes, so widths go through the CSSOM
    share = "el => el.getBoundingClientRect().width / el.parentElement.getBoundingClientRect().width"
    assert 0.2 < await item.locator(".progress > span").evaluate(share) < 0.3
    progress = VmProgress(
        operation="clone",
        vm_name="web-1",
        step="clone_started",
        percent=60,
        task_percent=100,
        activity_id=activity_id,
        group="web",
        source="ubuntu-22-template",
    )
    await gateway.bus.publish(subjects.VM_PROGRESS, progress)
    await expect(item.locator(".meter-label")).to_have_text("2 of 8 steps · clone 60%")
    await expect(item.locator("[role=progressbar]")).to_have_attribute("aria-valuenow", "33")
    # progress moves a bar; it is not listed among the live events
    await expect(page.locator(f'#live-events li[data-subject="{subjects.VM_PROGRESS.name}"]')).to_have_count(0)
    await page.screenshot(path=screenshots / "events-activity-progress.png", full_page=True)


async def test_a_template_being_made_shows_a_progress_bar_until_vcenter_is_done(
    signed_in: Page, gateway, screenshots: Path
) -> None:
    page = signed_in
    await page.goto(f"{gateway.url}/ui/#/templates")
    await expect(page.locator("#live.on")).to_be_visible()
    source = await page.locator("#tpl-source option").first.get_attribute("value")
    await page.fill("#tpl-name", "tpl-web-new")
    await page.click("form.card button[type=submit]")
    row = page.locator('#tpl-making tr[data-template="tpl-web-new"]')
    await expect(row.locator(".meter-label")).to_have_text("Template creation queued")
    await gateway.bus.publish(
        subjects.VM_PROGRESS,
        VmProgress(operation="template", vm_name="tpl-web-new", step="clone_started", percent=50, source=source),
    )
    await expect(row.locator(".meter-label")).to_have_text("50% · cloning in vCenter")
    await expect(row.locator("[role=progressbar]")).to_have_attribute("aria-valuenow", "50")
    await page.screenshot(path=screenshots / "template-progress.png", full_page=True)
    await gateway.bus.publish(
        subjects.TEMPLATE_CREATED, TemplateCreated(template_name="tpl-web-new", source_vm=str(source), moref="vm-900")
    )
    await expect(row).to_contain_text("Created")
    await expect(row.locator("[role=progressbar]")).to_have_attribute("aria-valuenow", "100")


async def test_vms_are_registered_in_a_job_whose_dashboards_are_linked_and_which_is_deleted_after_confirming(
    signed_in: Page, gateway, screenshots: Path
) -> None:
    page = signed_in
    await page.goto(f"{gateway.url}/ui/#/monitoring")
    await expect(page.locator("#live.on")).to_be_visible()
    web = page.locator('tr[data-job="web"]')
    await expect(web.locator("a.dash")).to_have_text("Infrastructure")
    await expect(web.locator("a.dash")).to_have_attribute(
        "href", re.compile(r"^http://127\.0\.0\.1:13000/d/dashboard-web")
    )
    await page.fill("#mon-job", "web")
    await page.check('#mon-register input[data-vm="web-01"]')
    await page.click("#mon-register button[type=submit]")
    await expect(page.locator(".toast").last).to_have_text("1 registration(s) queued in web")
    registered = TargetRegistered(job="web", vm_name="web-01", target="127.0.10.11:9100", up=True)
    await gateway.bus.publish(subjects.MONITORING_REGISTERED, registered)
    await expect(page.locator(".toast", has_text="web-01 is registered in web")).to_have_count(1)
    await page.screenshot(path=screenshots / "monitoring-registration.png", full_page=True)
    target = page.locator("tr", has=page.locator("td", has_text=re.compile("^web-01$"))).filter(has_text="9100")
    await target.locator("button", has_text="Deregister").click()
    await expect(page.locator("#confirm-text")).to_have_text("Stop scraping web-01 in web?")
    await page.click("#confirm-ok")
    await expect(page.locator(".toast", has_text="Deregistering web-01")).to_have_count(1)
    await web.locator("button.danger").click()
    await expect(page.locator("#confirm-text")).to_have_text("Delete job web, its targets and its dashboards?")
    await page.click("#confirm-ok")
    await expect(page.locator(".toast", has_text="Deleting job web")).to_have_count(1)


async def test_routing_shows_each_groups_two_routes_to_the_gateway_and_its_silence(
    signed_in: Page, gateway, screenshots: Path
) -> None:
    page = signed_in
    await page.goto(f"{gateway.url}/ui/#/routing")
    out = page.locator('tr[data-group="web"][data-direction="out"]')
    await expect(out).to_contain_text('alertname="web_HighResourceUsage"')
    await expect(out.locator(".badge", has_text="vmscale gateway")).to_have_count(1)
    await expect(page.locator('tr[data-group="web"][data-direction="in"]')).to_contain_text("scale-in")
    await expect(page.locator("tr", has_text="web is at its minimum size")).to_contain_text("active")
    await page.screenshot(path=screenshots / "routing.png", full_page=True)
    await out.locator("button", has_text="Disable group").click()
    await expect(page.locator("#confirm-text")).to_contain_text("Disable web?")
    await page.click("#confirm-ok")
    await expect(page.locator(".toast", has_text="web disabled")).to_have_count(1)
    assert gateway.scaler.groups["web"] is False


async def test_the_group_page_shows_a_running_activity_moving_with_its_clone(
    signed_in: Page, gateway, screenshots: Path
) -> None:
    page = signed_in
    await page.goto(f"{gateway.url}/ui/#/group/web")
    await expect(page.locator("#live.on")).to_be_visible()
    await page.click("#scale-out")
    await page.click("#confirm-ok")
    row = page.locator("#group-activities tbody tr").first
    await expect(row.locator(".meter-label")).to_have_text("2 of 8 steps")
    activity_id = await row.get_attribute("data-activity")
    progress = VmProgress(
        operation="clone", vm_name="web-1", step="clone_started", percent=80, activity_id=activity_id, group="web"
    )
    await gateway.bus.publish(subjects.VM_PROGRESS, progress)
    await expect(row.locator(".meter-label")).to_have_text("2 of 8 steps · clone 80%")
    await page.screenshot(path=screenshots / "group-activity-progress.png", full_page=True)


async def test_uninstalling_an_agent_asks_first_and_cancel_sends_nothing(signed_in: Page, gateway) -> None:
    page = signed_in
    await page.goto(f"{gateway.url}/ui/#/agents")
    await page.check('input[data-vm="web-01"]')
    await page.click("button:has-text('Uninstall')")
    await expect(page.locator("#confirm-text")).to_have_text("Uninstall node_exporter from 1 VM(s)?")
    await page.click('#confirm button[value="cancel"]')
    await expect(page.locator("#confirm")).not_to_be_visible()
    await expect(page.locator(".toast")).to_have_count(0)  # nothing was queued
    await page.click("button:has-text('Uninstall')")
    await page.click("#confirm-ok")
    await expect(page.locator(".toast", has_text="queued")).to_have_count(1)

"""The UI tells the truth about a group: failing decisions, dead letters naming it and a size below
min (with what vmscale does about it) show as banners on the group page and the dashboard, in
English and Korean; and accessibility basics: every control labelled, focus visible, the pages
usable at 1280x720 and 1920x1080."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from playwright.async_api import Browser, Page, expect

from shared import subjects
from shared.messages import DeadLetter, DecisionView, utcnow

if TYPE_CHECKING:  # the fixture's type; conftest is pytest's to import
    from tests.ui.conftest import RunningGateway

ADMIN_PASSWORD = "ui test password 42"
SCREENS = ["groups/new", "group/web", "ip-pools/new", "templates", "agents", "monitoring", "groups", "routing",
           "dashboard", "events", "users", "audit", "status", "dead-letters"]  # fmt: skip
UNLABELLED = """() => [...document.querySelectorAll("main input, main select, main textarea")]
  .filter((e) => e.type !== "hidden" && e.getClientRects().length)
  .filter((e) => !(e.labels && e.labels.length) && !e.getAttribute("aria-label") && !e.getAttribute("aria-labelledby"))
  .map((e) => e.outerHTML.slice(0, 120))"""


async def failing(gateway: RunningGateway) -> None:
    """web: one VM (min 2), convergence blocked by an exhausted pool, Prometheus failing, and an alert
    dead-lettered by the scaler."""
    scaler = gateway.scaler
    scaler.sizes["web"] = 1
    now = utcnow()
    for minutes, reason, message, trigger in (
        (3, "metrics_unavailable", "prometheus: connection refused", "evaluation"),
        (1, "ip_pool_exhausted", "IP pool lab has no free address", "converge"),
    ):
        scaler.decisions.append(
            DecisionView(
                id=f"dec-{minutes}",
                group="web",
                at=now - timedelta(minutes=minutes),
                allowed=False,
                reason=reason,
                message=message,
                trigger=trigger,
                rule="converge",
            )
        )
    letter = DeadLetter(
        subject=subjects.ALERT_FIRED.name,
        consumer=gateway.bus.topology.durable("scaler", subjects.ALERT_FIRED),
        reason="lease: fencing token is stale",
        error_kind="Contention",
        deliveries=5,
        payload='{"group": "web", "alertname": "web_HighResourceUsage"}',
    )
    await gateway.bus.publish(subjects.dead_letter(subjects.ALERT_FIRED), letter)


async def test_the_group_page_and_dashboard_say_decisions_fail_and_why_the_group_is_below_min(
    signed_in: Page, gateway: RunningGateway, screenshots: Path
) -> None:
    await failing(gateway)
    page = signed_in
    await page.goto(f"{gateway.url}/ui/#/group/web")
    health = page.locator("#health")
    letters = health.locator('[data-kind="dead_letters"]')
    await expect(letters).to_contain_text("1 message(s) for this group were dead-lettered")
    await expect(letters).to_contain_text("lease: fencing token is stale")
    await expect(letters.locator("a")).to_have_attribute("href", "#/dead-letters")
    await expect(health.locator('[data-kind="decision_failing"]')).to_have_count(2)
    await expect(health.locator('[data-kind="decision_failing"]').first).to_contain_text("ip_pool_exhausted")
    below = health.locator('[data-kind="below_min"]')
    await expect(below).to_contain_text("1 VM(s), below the minimum 2")
    await expect(below).to_contain_text("converging is blocked: ip_pool_exhausted: IP pool lab has no free address")
    await expect(page.locator("#last-done")).to_contain_text("It has not scaled yet.")
    await expect(page.locator("#dry-run h2")).to_have_text("What would it decide now, and why?")
    await page.screenshot(path=screenshots / "group-failing.png", full_page=True)

    await page.goto(f"{gateway.url}/ui/#/dashboard")
    await expect(page.locator('#dash-health [data-kind="below_min"]')).to_contain_text("below the minimum 2")
    await expect(page.locator('#dash-health [data-kind="dead_letters"]')).to_be_visible()
    await page.screenshot(path=screenshots / "dashboard-failing.png", full_page=True)

    await page.click("#lang")
    await page.goto(f"{gateway.url}/ui/#/group/web")
    await expect(page.locator("main h1")).to_have_text("web")
    await expect(page.locator('#health [data-kind="below_min"] strong')).to_have_text("최소 미만:")
    await expect(page.locator('#health [data-kind="below_min"]')).to_contain_text("VM 1대로 최소 2대보다 적습니다")
    await expect(page.locator('#health [data-kind="below_min"]')).to_contain_text(
        "되돌리기가 막혔습니다: ip_pool_exhausted"
    )
    await expect(page.locator('#health [data-kind="dead_letters"] a')).to_have_text("자세히 →")
    await page.screenshot(path=screenshots / "group-failing-ko.png", full_page=True)
    await page.click("#lang")
    await expect(page.locator('#health [data-kind="below_min"] strong')).to_have_text("Below the minimum:")


async def test_the_new_screens_speak_korean_with_no_key_untranslated(signed_in: Page, gateway: RunningGateway) -> None:
    page = signed_in
    missing = await page.evaluate("() => Object.keys(I18N.en).filter((k) => !(k in I18N.ko))")
    assert missing == []
    await page.click("#lang")
    for route in ("groups/new", "ip-pools/new", "group/web"):
        await page.goto(f"{gateway.url}/ui/#/{route}")
        await expect(page.locator("main h1").first).not_to_have_text(re.compile(r"^\s*$"))
        await page.wait_for_load_state("networkidle")
        text = await page.locator("main").inner_text()
        assert not re.search(r"\b(gf|pools|health|group|groups|process)\.[a-zA-Z]", text), route
        assert re.search(r"[가-힣]", text), route


async def test_every_control_is_labelled_and_keyboard_focus_is_visible(
    signed_in: Page, gateway: RunningGateway
) -> None:
    page = signed_in
    for route in SCREENS:
        await page.goto(f"{gateway.url}/ui/#/{route}")
        await expect(page.locator("main h1").first).to_be_visible()
        await page.wait_for_load_state("networkidle")
        assert await page.evaluate(UNLABELLED) == [], route
    await page.goto(f"{gateway.url}/ui/#/group/web")
    await expect(page.locator("#set-desired-go")).to_be_visible()
    outlines = []
    for _ in range(12):
        await page.keyboard.press("Tab")
        outlines.append(
            await page.evaluate(
                "() => { const e = document.activeElement, s = getComputedStyle(e);"
                " return [e.tagName, s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0]; }"
            )
        )
    assert all(visible for tag, visible in outlines if tag != "BODY"), outlines


@pytest.mark.parametrize(("width", "height"), [(1280, 720), (1920, 1080)], ids=["1280x720", "1920x1080"])
async def test_the_setup_screens_fit_the_common_screen_sizes(
    browser: Browser, gateway: RunningGateway, screenshots: Path, width: int, height: int
) -> None:
    context = await browser.new_context(viewport={"width": width, "height": height}, locale="en-GB")
    page = await context.new_page()
    try:
        await page.goto(f"{gateway.url}/ui/")
        await page.fill("#username", "admin")
        await page.fill("#password", ADMIN_PASSWORD)
        await page.click("#login-form button[type=submit]")
        await page.wait_for_selector("#menu:not([hidden])")
        for route in ("groups/new", "group/web", "ip-pools/new", "dashboard"):
            await page.goto(f"{gateway.url}/ui/#/{route}")
            await expect(page.locator("main h1").first).to_be_visible()
            await page.wait_for_load_state("networkidle")
            overflow = await page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{route} scrolls sideways by {overflow}px at {width}x{height}"
            await expect(page.locator(".menu")).to_be_in_viewport()
            await page.screenshot(path=screenshots / f"fit-{width}x{height}-{route.replace('/', '-')}.png")
    finally:
        await context.close()


async def test_empty_lists_say_what_to_do_next(signed_in: Page, gateway: RunningGateway) -> None:
    gateway.backends.templates = ()
    gateway.backends.vms = ()
    page = signed_in
    await page.goto(f"{gateway.url}/ui/#/templates")
    await expect(page.locator("#tpl-empty")).to_have_text(
        "No template yet. Pick a prepared VM above and create one; groups clone their VMs from it."
    )
    await page.goto(f"{gateway.url}/ui/#/agents")
    await expect(page.locator("#agents-empty")).to_contain_text("Check the vCenter connection on the System screen.")
    await page.goto(f"{gateway.url}/ui/#/ip-pools")
    await expect(page.locator("#pool-list .empty")).to_contain_text("Create one, then create a group that uses it.")

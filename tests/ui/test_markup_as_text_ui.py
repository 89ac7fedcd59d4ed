"""Names and alert annotations carrying markup are shown as text on every screen that shows them:
a group, a Prometheus job, a VM, a template and an alert's summary each hold an ``<img onerror>``;
the page shows the characters, no such element is ever made and its handler never runs."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import quote

from playwright.async_api import Page, expect

from shared.messages import ActivityView, utcnow
from shared.messages.inventory import TemplateInfo, VmInfo

if TYPE_CHECKING:  # the fixture's type; conftest is pytest's to import
    from tests.ui.conftest import RunningGateway


def markup(kind: str) -> str:
    """A name that is markup: rendered as HTML it makes an image whose error handler sets ``__xss``."""
    return f'<img src=x class=xss-{kind} onerror="window.__xss=1">{kind}'


GROUP, JOB, VM, TEMPLATE, ALERT = (markup(kind) for kind in ("group", "job", "vm", "template", "alert"))


def poison(gateway: RunningGateway) -> None:
    """Every stand-in answer that names a group, job, VM, template or alert carries markup."""
    scaler, backends = gateway.scaler, gateway.backends
    scaler.groups[GROUP] = True
    scaler.specs[GROUP] = {"name": GROUP, "min_size": 1, "max_size": 2, "template": TEMPLATE}
    scaler.activities.append(
        ActivityView(
            id="act-markup",
            group=GROUP,
            kind="scale_out",
            status="failed",
            cause=f"alert {ALERT}",
            created_at=utcnow(),
            finished_at=utcnow(),
            reason=f"clone of {VM} failed",
            vm_names=(VM,),
        )
    )
    backends.vms = (VmInfo(name=VM, moref="vm-66", power_state="poweredOn", ip="127.0.10.66"),)
    backends.templates = (
        TemplateInfo(vm=VmInfo(name=TEMPLATE, moref="vm-67", template=True), description=ALERT, source_vm=VM),
    )
    backends.jobs = {JOB: 1}
    backends.alerts = (
        {
            "labels": {"alertname": "HighResourceUsage", "service": GROUP, "severity": "warning"},
            "annotations": {"summary": ALERT},
            "startsAt": "2026-01-01T10:00:00Z",
            "status": {"state": "active"},
        },
    )


async def assert_inert(page: Page) -> None:
    """No element was made from the markup and no handler of it ran."""
    assert await page.locator("[class^=xss-]").count() == 0
    assert await page.evaluate("() => window.__xss") is None


async def visit(page: Page, gateway: RunningGateway, route: str) -> None:
    await page.goto(f"{gateway.url}/ui/#/{route}")
    await expect(page.locator("main h1")).to_be_visible()


async def test_markup_in_names_and_annotations_is_shown_as_text_on_every_screen(
    signed_in: Page, gateway: RunningGateway
) -> None:
    page = signed_in
    poison(gateway)  # after the sign-in's groups screen: every screen below is loaded afresh

    await visit(page, gateway, "dashboard")
    await page.select_option("#dash-group", value=GROUP)
    await expect(page.locator("#dash-group option", has_text=GROUP)).to_have_count(1)
    await expect(page.get_by_role("cell", name=ALERT)).to_be_visible()
    await expect(page.get_by_role("link", name=f"{GROUP} →")).to_be_visible()
    await assert_inert(page)

    await visit(page, gateway, f"group/{quote(GROUP, safe='')}")  # the API refuses the name: an error, inert
    await assert_inert(page)
    await visit(page, gateway, f"groups/edit/{quote(GROUP, safe='')}")
    await assert_inert(page)

    await visit(page, gateway, "templates")
    await expect(page.get_by_role("cell", name=TEMPLATE)).to_be_visible()
    await expect(page.get_by_role("cell", name=ALERT)).to_be_visible()  # the description
    await expect(page.get_by_role("cell", name=VM)).to_be_visible()  # the source VM
    await expect(page.locator("#tpl-source option", has_text=VM)).to_have_count(1)
    await assert_inert(page)

    await visit(page, gateway, "agents")
    await expect(page.locator("main td", has_text=VM)).to_be_visible()
    await assert_inert(page)

    await visit(page, gateway, "monitoring")
    await expect(page.get_by_role("link", name=JOB)).to_be_visible()
    await expect(page.locator("main td", has_text=VM).first).to_be_visible()
    await assert_inert(page)

    await visit(page, gateway, "events")
    activity = page.locator("li[data-activity=act-markup]")
    await expect(activity.get_by_text(f"{GROUP} · scale_out")).to_be_visible()
    await expect(activity).to_contain_text(f"alert {ALERT}")
    await expect(activity).to_contain_text(f"clone of {VM} failed")
    await assert_inert(page)

    await visit(page, gateway, "groups")
    row = page.locator("tr", has_text=GROUP)
    await expect(row.get_by_role("link", name=GROUP)).to_be_visible()
    await expect(row.get_by_text(TEMPLATE)).to_be_visible()
    await assert_inert(page)

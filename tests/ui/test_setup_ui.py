"""Setting a service up in the UI alone: an IP pool created, edited, refused deletion while used;
a group created with the scaler's own validation messages on their fields; every field of a group
using every policy kind round-tripping unchanged; "set desired to N" with a reason; suspend and
resume of exactly the scaler's processes. The stand-in scaler validates with the scaler's code."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from playwright.async_api import Page, expect

from services.scaler.domain.model import Process
from services.scaler.groups import parse_group

if TYPE_CHECKING:  # the fixture's type; conftest is pytest's to import
    from tests.ui.conftest import RunningGateway


FULL: dict[str, Any] = {
    "name": "full",
    "vm_prefix": "full",
    "template": "ubuntu-22-template",
    "prometheus_job": "full",
    "thresholds": {
        "cpu_high": 85,
        "memory_high": 90,
        "out_for_s": 90,
        "cpu_low": 20,
        "memory_low": 25,
        "in_for_s": 900,
    },
    "min_size": 2,
    "max_size": 6,
    "scale_out_step": 2,
    "scale_in_step": 1,
    "scale_out_cooldown_s": 120,
    "scale_in_cooldown_s": 600,  # set through the API: the form must not copy the scale-out one over it
    "pool": "web-pool",
    "vip": "127.0.10.100",
    "vip_port": 8443,
    "member_port": 8080,
    "health_path": "/healthz",
    "monitoring_port": 9101,
    "placement": {"datacenter": "dc1", "cluster": "c1", "resource_pool": "rp1", "folder": "web", "datastore": "ds1"},
    "network": "VM Network",
    "ip_pool": "lab",
    "ssh_credentials_ref": "vault:ssh/full",  # not on the form: kept
    "victim_order": "oldest",
    "drain_timeout_s": 45,
    "post_provision_hook": {
        "kind": "http",
        "target": "https://hook:s3cr3t-value@127.0.0.1:9/ready?token=abc",
        "parameters": {"env": "prod"},
        "timeout_s": 30,
    },
    "pre_termination_hook": {"kind": "jenkins", "target": "drain-job", "timeout_s": 120},
    "policies": [
        {"kind": "scheduled", "name": "morning", "cron": "0 8 * * 1-5", "timezone": "Asia/Seoul", "desired": 4},
        {
            "kind": "target_tracking",
            "target": 55,
            "tolerance": 0.05,
            "up_stabilization_s": 30,
            "down_stabilization_s": 600,
            "interval_s": 20,
        },
        {"kind": "scheduled", "name": "night", "cron": "0 22 * * *", "timezone": "UTC", "desired": 2},
    ],
    "alert_fresh_s": 90,
    "enabled": True,
    "suspended": ["scheduled"],
}


async def confirm(page: Page) -> None:
    await expect(page.locator("#confirm")).to_be_visible()
    await page.click("#confirm-ok")


async def test_an_ip_pool_is_created_edited_and_not_deleted_while_a_group_uses_it(
    signed_in: Page, gateway: RunningGateway, screenshots: Path
) -> None:
    page = signed_in
    await page.click('.menu a[href="#/ip-pools"]')
    await expect(page.locator("#pool-list .empty")).to_contain_text("No IP pool yet")
    await page.click("#new-pool")
    await page.fill("#pool-name", "lab")
    await page.fill("#pool-network", "127.0.10.0/24")
    await page.fill("#pool-ranges", "127.0.11.10-127.0.11.19")  # outside the network: the scaler says so
    await page.click("#pool-save")
    await expect(page.locator("#pool-summary")).to_contain_text(
        "range 127.0.11.10-127.0.11.19 is outside 127.0.10.0/24"
    )
    await page.screenshot(path=screenshots / "pool-invalid.png", full_page=True)
    await page.fill("#pool-ranges", "127.0.10.10-127.0.10.19")
    await page.fill("#pool-gateway", "127.0.10.1")
    await page.click("#pool-save")
    await expect(page.locator('tr[data-pool="lab"]')).to_contain_text("0 of 10 in use")
    assert "lab" in gateway.scaler.ip_pools

    gateway.scaler.specs["web"]["ip_pool"] = "lab"  # web's two VMs (127.0.10.11, .12) now hold addresses of it
    await page.reload()
    row = page.locator('tr[data-pool="lab"]')
    await expect(row).to_contain_text("2 of 10 in use")
    await expect(row.locator('a[href="#/group/web"]')).to_have_text("web")
    await expect(page.locator("#pool-leases tbody tr")).to_have_count(2)
    await expect(page.locator('#pool-leases tr[data-address="127.0.10.11"]')).to_contain_text("web-01")
    await page.fill("#pool-exclusions", "127.0.10.19")
    await page.click("#pool-save")
    await expect(row).to_contain_text("2 of 9 in use")
    await page.screenshot(path=screenshots / "pool-leases.png", full_page=True)

    await row.locator('button[data-action="delete"]').click()
    await confirm(page)
    await expect(page.locator(".toast.bad").last).to_contain_text("IP pool lab is used by web")
    assert "lab" in gateway.scaler.ip_pools

    await page.goto(f"{gateway.url}/ui/#/ip-pools/new")
    await page.fill("#pool-name", "spare")
    await page.fill("#pool-network", "127.0.20.0/24")
    await page.fill("#pool-ranges", "127.0.20.10-127.0.20.12")
    await page.click("#pool-save")
    await page.locator('tr[data-pool="spare"] button[data-action="delete"]').click()
    await confirm(page)
    await expect(page.locator('tr[data-pool="spare"]')).to_have_count(0)
    assert "spare" not in gateway.scaler.ip_pools


async def test_a_group_is_created_with_the_scalers_messages_on_their_fields_and_the_lint_before_saving(
    signed_in: Page, gateway: RunningGateway, screenshots: Path
) -> None:
    page = signed_in
    await page.goto(f"{gateway.url}/ui/#/groups/new")
    values = {"name": "shop", "vm_prefix": "shop", "template": "ubuntu-22-template", "prometheus_job": "shop"}
    values |= {"min_size": "5", "max_size": "2", "pool": "web-pool", "vip": "127.0.10.100", "ip_pool": "lab"}
    for name, value in values.items():
        await page.fill(f'[name="{name}"]', value)
    await page.click("#group-save")
    await expect(page.locator('.field[data-field="min_size"] .error')).to_have_text("min_size must not exceed max_size")

    await page.fill('[name="max_size"]', "6")
    await page.fill('[name="thresholds.cpu_low"]', "90")
    await page.click("#gf-add-schedule")
    row = page.locator("#gf-schedules .schedule").last
    await row.locator('[id$="-name"]').fill("morning")
    await row.locator('[id$="-cron"]').fill("every morning")
    await row.locator('[id$="-desired"]').fill("3")
    await page.click("#group-save")
    cpu_low = page.locator('.field[data-field="thresholds.cpu_low"] .error')
    await expect(cpu_low).to_have_text("scale-in CPU threshold must be below the scale-out one")
    await expect(row.locator(".row-error")).to_have_text("invalid cron expression 'every morning'")
    await expect(page.locator('.field[data-field="min_size"] .error')).to_have_text("")
    await expect(page.locator("#form-summary")).to_be_visible()
    await page.screenshot(path=screenshots / "group-form-real-errors.png", full_page=True)
    assert "shop" not in gateway.scaler.groups

    await row.locator('[id$="-cron"]').fill("0 9 * * 1-5")
    await row.locator('[id$="-timezone"]').fill("Asia/Seoul")
    await expect(row.locator(".runs")).to_contain_text("09:00")
    await expect(row.locator(".runs")).to_contain_text("(Asia/Seoul)")
    # the flapping lint explains itself before anything is saved
    await page.fill('[name="min_size"]', "1")
    await page.fill('[name="thresholds.cpu_low"]', "50")
    await expect(page.locator("#gf-lint")).to_contain_text("settings would flap: CPU 50% on 2 VMs becomes 100% on 1")
    await page.screenshot(path=screenshots / "group-form-lint.png", full_page=True)
    await page.fill('[name="min_size"]', "2")
    await page.fill('[name="thresholds.cpu_low"]', "30")
    await expect(page.locator("#gf-lint .error")).to_have_count(0)
    await page.click("#group-save")
    await expect(page.locator("main h1")).to_have_text("shop")
    spec = gateway.scaler.specs["shop"]
    assert spec["policies"] == [
        {"kind": "scheduled", "name": "morning", "cron": "0 9 * * 1-5", "timezone": "Asia/Seoul", "desired": 3}
    ]
    assert spec["scale_in_cooldown_s"] == 300 and spec["thresholds"]["out_for_s"] == 300


async def test_a_group_using_every_policy_kind_round_trips_through_the_form_unchanged(
    signed_in: Page, gateway: RunningGateway, screenshots: Path
) -> None:
    saved = parse_group(FULL).model_dump(mode="json")
    gateway.scaler.groups["full"] = True
    gateway.scaler.specs["full"] = saved
    page = signed_in
    await page.goto(f"{gateway.url}/ui/#/groups/edit/full")
    await expect(page.locator('[name="scale_in_cooldown_s"]')).to_have_value("600")
    await expect(page.locator('[name="thresholds.out_for_s"]')).to_have_value("1.5")
    await expect(page.locator("#gf-tt-target")).to_have_value("55")
    await page.click("#gf-tt-on")  # off: its fields go out of sight, and back on
    await expect(page.locator("#gf-tt")).to_be_hidden()
    await page.click("#gf-tt-on")
    await expect(page.locator("#gf-tt")).to_be_visible()
    await expect(page.locator("#gf-schedules .schedule")).to_have_count(2)
    await expect(page.locator("#gf-schedules .schedule").first.locator(".runs")).to_contain_text("08:00")
    await expect(page.locator("#gf-post_provision_hook-target")).to_have_value("")  # credentials never shown
    await expect(page.locator("#gf-post_provision_hook-target")).to_have_attribute(
        "placeholder", "https://***@127.0.0.1:9/ready?***"
    )
    await expect(page.locator("#gf-pre_termination_hook-target")).to_have_value("drain-job")
    assert "s3cr3t" not in await page.content()
    await page.click("#gf-promql summary")
    await expect(page.locator("#gf-promql")).to_contain_text("Prometheus has no rules for this group")
    await page.screenshot(path=screenshots / "group-form-every-field.png", full_page=True)
    await page.click("#group-save")
    await expect(page.locator("main h1")).to_have_text("full")
    assert gateway.scaler.specs["full"] == saved


async def test_desired_is_set_within_min_and_max_with_a_reason_that_is_audited(
    signed_in: Page, gateway: RunningGateway
) -> None:
    page = signed_in
    await page.goto(f"{gateway.url}/ui/#/group/web")
    await expect(page.locator("#desired-help")).to_have_text("Between 2 and 4.")
    await page.fill("#desired", "9")
    await page.click("#set-desired-go")
    await expect(page.locator("#desired-error")).to_have_text("Enter a whole number between 2 and 4.")
    await page.fill("#desired", "3")
    await page.click("#set-desired-go")
    await expect(page.locator("#desired-error")).to_have_text("Say why (kept in the audit log).")
    await page.fill("#scale-reason", "campaign at nine")
    await page.click("#set-desired-go")
    await expect(page.locator("#confirm-text")).to_have_text("Set web to 3 VMs (now 2)?")
    await page.click("#confirm-ok")
    await expect(page.locator(".toast").last).to_contain_text("allowed: scale by 1")
    assert gateway.scaler.decisions[-1].delta == 1
    [entry] = gateway.app.state.gateway.audit_log.recent(5, action="group.scale")  # type: ignore[attr-defined]
    assert entry.detail["desired"] == 3 and entry.detail["reason"] == "campaign at nine"


async def test_suspend_offers_exactly_the_scalers_processes_and_resume_undoes_it(
    signed_in: Page, gateway: RunningGateway
) -> None:
    page = signed_in
    await page.goto(f"{gateway.url}/ui/#/group/web")
    buttons = page.locator("#processes button")
    await expect(buttons).to_have_count(len(Process))
    offered = await buttons.evaluate_all("all => all.map((b) => b.dataset.process)")
    assert sorted(offered) == sorted(p.value for p in Process)
    await page.click('#processes button[data-process="scale_in"]')
    scale_in = page.locator('#processes button[data-process="scale_in"]')
    await expect(scale_in).to_have_attribute("aria-pressed", "true")
    await expect(scale_in).to_have_text("Resume: scale-in")
    assert gateway.scaler.specs["web"]["suspended"] == ["scale_in"]
    await scale_in.click()
    await expect(page.locator('#processes button[data-process="scale_in"]')).to_have_attribute("aria-pressed", "false")
    assert gateway.scaler.specs["web"]["suspended"] == []


async def test_the_form_shows_the_alert_rules_prometheus_has_for_the_group(
    signed_in: Page, gateway: RunningGateway
) -> None:
    page = signed_in
    await page.goto(f"{gateway.url}/ui/#/groups/edit/web")
    await page.click("#gf-promql summary")
    await expect(page.locator("#gf-promql")).to_contain_text("web_HighResourceUsage")
    await expect(page.locator("#gf-promql pre").first).to_contain_text("node_cpu_seconds_total")

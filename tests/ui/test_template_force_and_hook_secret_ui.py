"""Issue 17's API rules, finished in the UI: a template vmscale did not create is deleted only when
an admin forces it (the API's reason shown first, a confirmation naming the template, the deletion
audited as forced); one a group uses stays refused with the groups named and no force offered;
below admin there is no delete at all. HTTP hooks take a secret reference (``env:``/``file:``) on
the group form: shown back as saved, the API's validation message on the field, round-tripping."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from playwright.async_api import Browser, Page, expect

from services.gateway.auth.ports import AuditEntry
from services.scaler.groups import parse_group
from shared.messages.inventory import TemplateInfo, VmInfo
from tests.ui.test_setup_ui import FULL

if TYPE_CHECKING:  # the fixture's type; conftest is pytest's to import
    from tests.ui.conftest import RunningGateway

IMPORTED = TemplateInfo(vm=VmInfo(name="golden-import", moref="vm-77", template=True), description="copied in by hand")
OURS = TemplateInfo(
    vm=VmInfo(name="tpl-ours", moref="vm-78", template=True),
    description="made by vmscale",
    source_vm="web-01",
    created_at=datetime(2026, 12, 1, 9, 0, tzinfo=UTC),
)


def audited(gateway: RunningGateway, action: str) -> list[AuditEntry]:
    entries: list[AuditEntry] = gateway.app.state.gateway.audit_log.recent(20, action=action)  # type: ignore[attr-defined]
    return entries


async def test_a_template_vmscale_did_not_create_is_deleted_only_when_an_admin_forces_it(
    signed_in: Page, gateway: RunningGateway, screenshots: Path
) -> None:
    gateway.backends.templates = (*gateway.backends.templates, IMPORTED, OURS)
    page = signed_in
    await page.goto(f"{gateway.url}/ui/#/templates")
    row = page.locator('tr[data-name="golden-import"]')
    await expect(row).to_contain_text("not by vmscale")
    await row.get_by_role("button", name="Delete").click()
    await expect(page.locator("#confirm-text")).to_have_text("Delete template golden-import?")
    await page.click("#confirm-ok")
    refusal = page.locator('#tpl-refusal .refusal[data-template="golden-import"]')
    await expect(refusal).to_contain_text("golden-import was not deleted:")
    await expect(refusal.locator(".reason")).to_have_text(
        "template 'golden-import' was not created by vmscale; repeat with force=true to delete it anyway"
    )
    await expect(refusal).to_contain_text("An admin can delete it anyway; the audit log records it as forced.")
    assert audited(gateway, "template.delete") == []  # the refused request deleted nothing
    await page.screenshot(path=screenshots / "template-delete-refused-not-ours.png", full_page=True)

    await page.click("#tpl-force")
    await expect(page.locator("#confirm-text")).to_have_text(
        "Delete template golden-import anyway? vmscale did not create it, and nothing can be cloned from it afterwards."
    )
    await page.screenshot(path=screenshots / "template-delete-force-confirm.png")
    await page.click("#confirm button[value=cancel]")  # cancelling sends nothing
    await expect(page.locator("#confirm")).to_be_hidden()
    assert audited(gateway, "template.delete") == []
    await page.click("#tpl-force")
    await page.click("#confirm-ok")
    await expect(page.locator(".toast").last).to_have_text("Deletion of golden-import queued (forced, audited)")
    await expect(page.locator("#tpl-refusal .refusal")).to_have_count(0)
    [entry] = audited(gateway, "template.delete")
    assert (entry.target, entry.actor, entry.detail["forced"]) == ("golden-import", "admin", True)

    # one vmscale made goes after the ordinary confirmation, with no refusal and not forced
    await page.locator('tr[data-name="tpl-ours"]').get_by_role("button", name="Delete").click()
    await page.click("#confirm-ok")
    await expect(page.locator(".toast").last).to_have_text("Deleted")
    entries = audited(gateway, "template.delete")
    assert [(e.target, e.detail["forced"]) for e in entries] == [("tpl-ours", False), ("golden-import", True)]


async def test_a_template_a_group_uses_is_refused_naming_the_groups_with_no_force_offered(
    signed_in: Page, gateway: RunningGateway, screenshots: Path
) -> None:
    page = signed_in  # the stand-in's ubuntu-22-template: not made by vmscale, and group "web" uses it
    await page.goto(f"{gateway.url}/ui/#/templates")
    await page.locator('tr[data-name="ubuntu-22-template"]').get_by_role("button", name="Delete").click()
    await page.click("#confirm-ok")
    refusal = page.locator("#tpl-refusal .refusal")
    await expect(refusal.locator(".reason")).to_have_text("template 'ubuntu-22-template' is used by group(s) web")
    await expect(refusal).to_contain_text("Give those groups another template first, then delete it.")
    await expect(page.locator("#tpl-force")).to_have_count(0)
    await page.screenshot(path=screenshots / "template-delete-refused-in-use.png", full_page=True)

    await page.click("#lang")  # in Korean: the words around the API's reason are translated
    await page.locator('tr[data-name="ubuntu-22-template"]').get_by_role("button", name="삭제").click()
    await page.click("#confirm-ok")
    await expect(refusal).to_contain_text("ubuntu-22-template을(를) 삭제하지 않았습니다:")
    await expect(refusal).to_contain_text("먼저 해당 그룹에 다른 템플릿을 지정한 뒤 삭제하세요.")
    await expect(page.locator("#tpl-force")).to_have_count(0)
    await page.screenshot(path=screenshots / "template-delete-refused-in-use-ko.png", full_page=True)
    assert audited(gateway, "template.delete") == []


async def test_below_admin_the_templates_cannot_be_deleted_and_the_screen_says_so(
    signed_in: Page, browser: Browser, gateway: RunningGateway, screenshots: Path
) -> None:
    gateway.backends.templates = (*gateway.backends.templates, IMPORTED)
    created = await signed_in.request.post(
        f"{gateway.url}/api/v1/users",
        data={"username": "olga", "password": "operator password 7", "role": "operator"},
        headers={"X-CSRF-Token": await signed_in.evaluate("App.csrf")},
    )
    assert created.status == 201, await created.text()
    context = await browser.new_context(viewport={"width": 1440, "height": 900}, locale="en-GB")
    try:
        page = await context.new_page()
        await page.goto(f"{gateway.url}/ui/")
        await page.fill("#username", "olga")
        await page.fill("#password", "operator password 7")
        await page.click("#login-form button[type=submit]")
        await page.wait_for_selector("#menu:not([hidden])")
        await page.goto(f"{gateway.url}/ui/#/templates")
        delete = page.locator('tr[data-name="golden-import"]').get_by_role("button", name="Delete")
        await expect(delete).to_be_disabled()
        await expect(delete).to_have_attribute("title", "Deleting a template is for admins.")
        await expect(page.locator("#tpl-admin-only")).to_have_text("Deleting a template is for admins.")
        await page.screenshot(path=screenshots / "template-delete-operator.png", full_page=True)
    finally:
        await context.close()


def with_secret(ref: str | None) -> dict[str, Any]:
    spec = copy.deepcopy(FULL)
    spec["post_provision_hook"]["secret_ref"] = ref
    return parse_group(spec).model_dump(mode="json")


async def test_an_http_hooks_secret_reference_round_trips_and_the_apis_message_lands_on_it(
    signed_in: Page, gateway: RunningGateway, screenshots: Path
) -> None:
    saved = with_secret("env:DEPLOY_TOKEN")
    gateway.scaler.groups["full"] = True
    gateway.scaler.specs["full"] = saved
    page = signed_in
    await page.goto(f"{gateway.url}/ui/#/groups/edit/full")
    post, pre = page.locator("#gf-post_provision_hook-secret"), page.locator("#gf-pre_termination_hook-secret")
    await expect(post).to_have_value("env:DEPLOY_TOKEN")  # the reference's name, which is no secret
    await expect(page.locator("#gf-post_provision_hook-secret-help")).to_have_text(
        "HTTP only: env:NAME or file:NAME, read at call time and sent as a bearer token; the secret is never stored."
    )
    await expect(pre).to_be_hidden()  # the pre-termination hook is a Jenkins job: no reference
    await page.locator('fieldset[data-section="hooks"]').screenshot(path=screenshots / "hook-secret-ref.png")
    await page.click("#group-save")
    await expect(page.locator("main h1")).to_have_text("full")
    assert gateway.scaler.specs["full"] == saved  # unchanged, null on the Jenkins hook included

    # a token typed where its name belongs: the scaler's own message, on the field
    await page.goto(f"{gateway.url}/ui/#/groups/edit/full")
    await post.fill("s3cr3t-token-value")
    await page.click("#group-save")
    error = page.locator('.field[data-field="post_provision_hook.secret_ref"] .error')
    await expect(error).to_contain_text("not the secret: env:NAME")
    await expect(error).not_to_contain_text("s3cr3t-token-value")
    await expect(page.locator('.field[data-field="post_provision_hook.secret_ref"]')).to_have_class("field invalid")
    await expect(post).to_be_focused()
    await page.screenshot(path=screenshots / "hook-secret-ref-invalid.png", full_page=True)
    assert gateway.scaler.specs["full"] == saved

    await post.fill("file:deploy.token")
    await page.click("#group-save")
    await expect(page.locator("main h1")).to_have_text("full")
    assert gateway.scaler.specs["full"] == with_secret("file:deploy.token")

    # cleared: no reference any more (null, as the scaler stores it); a Jenkins hook never sends one
    await page.goto(f"{gateway.url}/ui/#/groups/edit/full")
    await post.fill("")
    await page.select_option("#gf-pre_termination_hook-kind", "http")
    await expect(pre).to_be_visible()
    await page.select_option("#gf-pre_termination_hook-kind", "jenkins")
    await expect(pre).to_be_hidden()
    await page.click("#group-save")
    await expect(page.locator("main h1")).to_have_text("full")
    assert gateway.scaler.specs["full"] == with_secret(None)


async def test_a_new_groups_http_hook_takes_a_reference_and_the_form_reads_in_korean(
    signed_in: Page, gateway: RunningGateway, screenshots: Path
) -> None:
    page = signed_in
    await page.click("#lang")
    await page.goto(f"{gateway.url}/ui/#/groups/new")
    values = {"name": "shop", "vm_prefix": "shop", "template": "ubuntu-22-template", "prometheus_job": "shop"}
    values |= {"min_size": "2", "max_size": "4", "pool": "web-pool", "vip": "127.0.10.100", "ip_pool": "lab"}
    for name, value in values.items():
        await page.fill(f'[name="{name}"]', value)
    secret = page.locator("#gf-post_provision_hook-secret")
    await expect(secret).to_be_hidden()  # no hook yet
    await page.select_option("#gf-post_provision_hook-kind", "http")
    await expect(page.locator('label[for="gf-post_provision_hook-secret"]')).to_have_text("시크릿 참조")
    await expect(page.locator("#gf-post_provision_hook-secret-help")).to_have_text(
        "HTTP 전용: env:이름 또는 file:이름. 호출할 때 읽어 Bearer 토큰으로 보내며, 시크릿 값은 저장하지 않습니다."
    )
    await page.fill("#gf-post_provision_hook-target", "https://deploy.example/ready")
    await secret.fill("env:SHOP_DEPLOY")
    await page.locator('fieldset[data-section="hooks"]').screenshot(path=screenshots / "hook-secret-ref-ko.png")
    await page.click("#group-save")
    await expect(page.locator("main h1")).to_have_text("shop")
    hook = gateway.scaler.specs["shop"]["post_provision_hook"]
    assert (hook["kind"], hook["target"], hook["secret_ref"]) == (
        "http",
        "https://deploy.example/ready",
        "env:SHOP_DEPLOY",
    )
    assert gateway.scaler.specs["shop"].get("pre_termination_hook") is None


async def test_an_http_hook_and_a_jenkins_hook_line_up_field_for_field(
    signed_in: Page, gateway: RunningGateway, screenshots: Path
) -> None:
    page = signed_in
    await page.goto(f"{gateway.url}/ui/#/groups/new")
    await page.select_option("#gf-post_provision_hook-kind", "http")
    await page.select_option("#gf-pre_termination_hook-kind", "jenkins")
    await expect(page.locator("#gf-post_provision_hook-secret")).to_be_visible()
    await expect(page.locator("#gf-pre_termination_hook-secret")).to_be_hidden()
    for field in ("kind", "target", "timeout", "params"):
        post = await page.locator(f"#gf-post_provision_hook-{field}").bounding_box()
        pre = await page.locator(f"#gf-pre_termination_hook-{field}").bounding_box()
        assert post is not None and pre is not None
        assert (post["x"], post["width"]) == (pre["x"], pre["width"]), field
    await page.locator('fieldset[data-section="hooks"]').screenshot(path=screenshots / "hooks-http-and-jenkins.png")

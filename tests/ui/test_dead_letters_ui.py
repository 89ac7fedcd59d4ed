"""Dead letters in headless Chromium: the System screen says they wait and links to them; each is
replayed or discarded only after confirming (cancel sends nothing); Korean names the screen."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from playwright.async_api import Page, expect

from shared import subjects
from shared.messages import DeadLetter

if TYPE_CHECKING:  # the fixture's type; conftest is pytest's to import
    from tests.ui.conftest import RunningGateway


SUBJECT = subjects.CMD_POOL_REMOVE
OTHER = subjects.CMD_VM_CLONE


async def dead_letter(gateway: RunningGateway, subject: subjects.Subject[Any], reason: str) -> None:
    letter = DeadLetter(
        subject=subject.name,
        consumer=gateway.bus.topology.durable("loadbalancer", subject),
        reason=reason,
        error_kind="InvalidInput",
        deliveries=5,
        payload='{"pool": "web", "name": "web-1"}',
    )
    await gateway.bus.publish(subjects.dead_letter(subject), letter)


async def test_the_system_screen_points_at_waiting_dead_letters(
    signed_in: Page, gateway: RunningGateway, screenshots: Path
) -> None:
    page = signed_in
    await page.goto(f"{gateway.url}/ui/#/status")
    await expect(page.locator("main h1")).to_have_text("System status")
    await expect(page.locator("#status-dead-letters")).to_have_count(0)  # none yet: no line
    await dead_letter(gateway, SUBJECT, "member not allowed")
    await dead_letter(gateway, SUBJECT, "member not allowed")
    await dead_letter(gateway, OTHER, "template missing")
    await page.reload()
    line = page.locator("#status-dead-letters")
    await expect(line).to_contain_text("3 dead letter(s) waiting")
    await expect(line).to_contain_text(f"{SUBJECT.name} 2")
    await page.screenshot(path=screenshots / "status-dead-letters.png", full_page=True)
    await line.locator("a").click()
    await expect(page.locator("main h1")).to_have_text("Dead letters")
    await expect(page.locator("#dl-list tbody tr")).to_have_count(3)


async def test_a_dead_letter_is_replayed_and_another_discarded_each_after_confirming(
    signed_in: Page, gateway: RunningGateway, screenshots: Path
) -> None:
    page = signed_in
    await dead_letter(gateway, SUBJECT, "member not allowed")
    await dead_letter(gateway, OTHER, "template missing")
    await page.goto(f"{gateway.url}/ui/#/dead-letters")
    rows = page.locator("#dl-list tbody tr")
    await expect(rows).to_have_count(2)
    newest, oldest = rows.nth(0), rows.nth(1)
    await expect(newest).to_contain_text(OTHER.name)
    await expect(oldest).to_contain_text("member not allowed")
    await expect(oldest).to_contain_text("loadbalancer")
    await page.screenshot(path=screenshots / "dead-letters.png", full_page=True)
    seq = await oldest.get_attribute("data-seq")

    await oldest.locator("button", has_text="Replay").click()
    await expect(page.locator("#confirm-text")).to_have_text(
        f"Replay dead letter {seq} on {SUBJECT.name}? Its handler receives the message again."
    )
    await page.click('#confirm button[value="cancel"]')
    await expect(page.locator("#confirm")).not_to_be_visible()
    await expect(page.locator(".toast")).to_have_count(0)  # nothing was sent
    await expect(rows).to_have_count(2)

    connection = gateway.bus.broker.config.connection_state.connection
    sub = await connection.subscribe(gateway.bus.topology.subject(SUBJECT))
    await oldest.locator("button", has_text="Replay").click()
    await page.click("#confirm-ok")
    await expect(page.locator(".toast", has_text=f"Dead letter {seq} replayed on {SUBJECT.name}")).to_have_count(1)
    replayed = await sub.next_msg(timeout=10)
    await sub.unsubscribe()
    assert replayed.data == b'{"pool": "web", "name": "web-1"}'
    await expect(rows).to_have_count(1)

    await rows.first.locator("button", has_text="Discard").click()
    await expect(page.locator("#confirm-text")).to_contain_text("It cannot be replayed afterwards.")
    await page.click("#confirm-ok")
    await expect(page.locator(".toast", has_text="discarded")).to_have_count(1)
    await expect(page.locator("#dl-list")).to_contain_text("No dead letters: every message was handled.")


async def test_the_dead_letters_screen_speaks_korean(signed_in: Page, gateway: RunningGateway) -> None:
    page = signed_in
    await dead_letter(gateway, SUBJECT, "member not allowed")
    await page.goto(f"{gateway.url}/ui/#/dead-letters")
    await page.click("#lang")
    await expect(page.locator("main h1")).to_have_text("데드 레터")
    await expect(page.locator('.menu a[href="#/dead-letters"]')).to_have_text("데드 레터")
    await expect(page.locator("#dl-list tbody tr button").first).to_have_text("재처리")
    await page.click("#lang")
    await expect(page.locator("main h1")).to_have_text("Dead letters")


async def test_dead_letters_are_replayed_by_filter_after_a_counted_confirmation(
    signed_in: Page, gateway: RunningGateway, screenshots: Path
) -> None:
    page = signed_in
    await dead_letter(gateway, SUBJECT, "member not allowed")
    await dead_letter(gateway, SUBJECT, "Member NOT allowed again")
    await dead_letter(gateway, SUBJECT, "pool gone")
    await dead_letter(gateway, OTHER, "member not allowed")
    await page.goto(f"{gateway.url}/ui/#/dead-letters")
    rows = page.locator("#dl-list tbody tr")
    await expect(rows).to_have_count(4)

    await page.fill("#dl-subject", SUBJECT.name)
    await page.fill("#dl-reason", "not allowed")
    await page.click("#dl-bulk-replay")
    await expect(page.locator("#confirm-text")).to_have_text(
        "Replay 2 dead letter(s)? Their handlers receive the messages again."
    )
    await page.screenshot(path=screenshots / "dead-letters-bulk.png", full_page=True)
    await page.click('#confirm button[value="cancel"]')
    await expect(page.locator("#confirm")).not_to_be_visible()
    await expect(page.locator(".toast")).to_have_count(0)  # the count changed nothing
    await page.reload()
    await expect(rows).to_have_count(4)

    await page.fill("#dl-subject", SUBJECT.name)
    await page.fill("#dl-reason", "not allowed")
    connection = gateway.bus.broker.config.connection_state.connection
    sub = await connection.subscribe(gateway.bus.topology.subject(SUBJECT))
    await page.click("#dl-bulk-replay")
    await page.click("#confirm-ok")
    await expect(page.locator(".toast", has_text="2 dead letter(s) replayed")).to_have_count(1)
    for _ in range(2):
        assert (await sub.next_msg(timeout=10)).data == b'{"pool": "web", "name": "web-1"}'
    await sub.unsubscribe()
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text("pool gone")

    await page.fill("#dl-reason", "no such reason")
    await page.click("#dl-bulk-discard")
    await expect(page.locator(".toast", has_text="No dead letter matches the filter")).to_have_count(1)
    await expect(page.locator("#confirm")).not_to_be_visible()


async def test_the_filter_section_speaks_korean(signed_in: Page, gateway: RunningGateway) -> None:
    page = signed_in
    await dead_letter(gateway, SUBJECT, "member not allowed")
    await page.goto(f"{gateway.url}/ui/#/dead-letters")
    await page.click("#lang")
    await expect(page.locator("#dl-bulk h2")).to_have_text("조건으로 처리")
    await expect(page.locator("#dl-bulk-discard")).to_have_text("조건에 맞는 항목 폐기")
    await page.click("#dl-bulk-discard")
    await expect(page.locator("#confirm-text")).to_have_text(
        "데드 레터 1건을 폐기할까요? 폐기하면 재처리할 수 없습니다."
    )
    await page.click('#confirm button[value="cancel"]')

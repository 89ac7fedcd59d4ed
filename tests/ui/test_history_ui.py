"""History in headless Chromium (issue 16 item 6): the dashboard's range picker sets the metrics'
range (a bounded number of points) and the group's size over time; the events screen's time range
reads the scaler's stored activities and decisions, in English and Korean."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from playwright.async_api import Page, expect

from services.scaler.domain.state import Condition, Observed
from shared.messages import ActivityView, DecisionView

if TYPE_CHECKING:  # the fixture's type; conftest is pytest's to import
    from tests.ui.conftest import RunningGateway


def seed_history(gateway: RunningGateway) -> None:
    """Two days of the ``web`` group, as the scaler stored them: out by two, in by one, a failed out."""
    now = datetime.now(UTC)

    def activity(n: int, kind: str, ago: timedelta, status: str, vms: int = 1) -> ActivityView:
        return ActivityView(
            id=f"act-old-{n}",
            group="web",
            kind=kind,
            status=status,
            cause="alert",
            created_at=now - ago,
            finished_at=now - ago + timedelta(minutes=3),
            vm_names=tuple(f"web-old-{n}-{i}" for i in range(vms)),
            reason="clone failed: no space on ds-01" if status == "rolled_back" else None,
            failed_step="clone" if status == "rolled_back" else None,
        )

    gateway.scaler.sizes["web"] = 3
    gateway.scaler.activities.extend(
        [
            activity(1, "scale_out", timedelta(days=2), "succeeded", vms=2),
            activity(2, "scale_in", timedelta(hours=20), "succeeded"),
            activity(3, "scale_out", timedelta(hours=3), "rolled_back"),
            activity(4, "scale_out", timedelta(hours=2), "succeeded"),
        ]
    )
    gateway.scaler.decisions.append(
        DecisionView(
            id="5b0c8a52-2f41-4c43-8d5c-3c1f0e9a7d21",
            group="web",
            at=now - timedelta(hours=3, seconds=1),
            allowed=True,
            delta=1,
            reason="allowed",
            message="cpu 92% above 80% for 5 min",
            trigger="alert",
            rule="cpu",
            activity_id="act-old-3",
        )
    )


async def test_the_dashboard_range_picker_sets_the_metrics_and_the_size_over_time(
    signed_in: Page, gateway: RunningGateway, screenshots: Path
) -> None:
    seed_history(gateway)
    page = signed_in
    await page.goto(f"{gateway.url}/ui/#/dashboard")
    picker = page.locator("#dash-range")
    await expect(picker.locator("button")).to_have_text(["15 min", "1 hour", "6 hours", "24 hours", "7 days"])
    await expect(picker.locator('button[aria-pressed="true"]')).to_have_text("15 min")
    chart = page.locator("#instance-charts .instance-chart").first
    await expect(chart).to_have_attribute("data-points", "61")  # 15 s apart
    await expect(page.locator("#size-chart h2")).to_have_text("Group size · last 15 min")

    await picker.locator('button[data-range="7d"]').click()
    await expect(picker.locator('button[aria-pressed="true"]')).to_have_text("7 days")
    await expect(page.locator("#instance-charts")).to_have_attribute("data-range", "7d")
    await expect(chart).to_have_attribute("data-points", "241")  # a week in about 240 points, not 40,000
    size = page.locator("#size-chart")
    await expect(size.locator("h2")).to_have_text("Group size · last 7 days")
    # 1 → 3 (out by two) → 2 (in) → 3 → 2 (the failed one given back) → 3 → 3 now: a step per change
    await expect(size.locator("svg polyline")).to_have_attribute("points", _points_count(1 + 2 * 6))
    await page.screenshot(path=screenshots / "dashboard-range-7d.png", full_page=True)

    await page.reload()  # the range is remembered for the session
    await expect(page.locator('#dash-range button[aria-pressed="true"]')).to_have_text("7 days")
    await page.click("#lang")
    await expect(page.locator("#dash-range button")).to_have_text(["15분", "1시간", "6시간", "24시간", "7일"])
    await expect(page.locator("#size-chart h2")).to_have_text("그룹 크기 · 최근 7일")
    await page.locator('#dash-range button[data-range="1h"]').click()
    await expect(page.locator("#size-chart h2")).to_have_text("그룹 크기 · 최근 1시간")
    await expect(page.locator("#instance-charts .instance-chart").first).to_have_attribute("data-points", "241")
    await page.screenshot(path=screenshots / "dashboard-range-ko.png", full_page=True)
    await page.click("#lang")


def _points_count(n: int) -> re.Pattern[str]:
    """``n`` x,y pairs."""
    return re.compile(rf"^(\S+,\S+ ){{{n - 1}}}\S+,\S+$")


async def test_the_events_screen_reads_the_stored_history_of_its_range(
    signed_in: Page, gateway: RunningGateway, screenshots: Path
) -> None:
    seed_history(gateway)
    page = signed_in
    await page.goto(f"{gateway.url}/ui/#/events")
    await expect(page.locator("#ev-range")).to_have_value("24h")
    # the scaler's activities and decisions (the ring also holds e.g. this session's login, audited)
    listed = page.locator(
        '#live-events li[data-subject^="activity."], #live-events li[data-subject="decision.recorded"]'
    )
    rolled = page.locator('#live-events li[data-subject="activity.rolled_back"]')
    await expect(rolled).to_contain_text("clone failed: no space on ds-01")
    await expect(rolled).to_contain_text("stored")
    await expect(page.locator('#live-events li[data-subject="decision.recorded"]')).to_have_count(1)
    await expect(page.locator('#timeline li[data-activity="act-old-2"]')).to_be_visible()
    await expect(page.locator('#timeline li[data-activity="act-old-1"]')).to_have_count(0)  # two days ago
    await expect(page.get_by_text("Waiting for events")).to_be_hidden()  # not over a list that has some
    await page.screenshot(path=screenshots / "events-range-24h.png", full_page=True)

    await page.select_option("#ev-range", "1h")
    await expect(page.locator("#timeline")).to_contain_text("No activity in this range.")
    await expect(listed).to_have_count(0)

    await page.select_option("#ev-range", "7d")
    await expect(page.locator('#timeline li[data-activity="act-old-1"]')).to_be_visible()
    await expect(listed).to_have_count(2 * 4 + 1)  # each activity's start and end, and the decision

    await page.select_option("#ev-range", "custom")
    await expect(page.locator("#ev-from")).to_be_visible()
    start = (datetime.now() - timedelta(hours=4)).strftime("%Y-%m-%dT%H:%M")
    end = (datetime.now() - timedelta(hours=2, minutes=30)).strftime("%Y-%m-%dT%H:%M")
    await page.fill("#ev-to", end)
    await page.fill("#ev-from", start)
    await page.locator("#ev-from").dispatch_event("change")
    await expect(page.locator("#timeline li[data-activity]")).to_have_count(1)
    await expect(page.locator('#timeline li[data-activity="act-old-3"]')).to_be_visible()
    await expect(listed).to_have_count(3)  # act-old-3's start and end, its decision
    await page.fill("#ev-from", end)
    await page.fill("#ev-to", start)
    await page.locator("#ev-to").dispatch_event("change")
    await expect(page.locator("#ev-range-error")).to_have_text("The start must be before the end.")

    await page.click("#lang")
    await expect(page.locator('label[for="ev-range"]')).to_have_text("기간")
    await expect(page.locator('#ev-range option[value="7d"]')).to_have_text("7일")
    await page.select_option("#ev-range", "24h")
    await expect(rolled).to_contain_text("저장됨")
    await expect(page.locator("main h2", has_text="기간 내 이벤트")).to_be_visible()
    await page.screenshot(path=screenshots / "events-range-ko.png", full_page=True)
    await page.click("#lang")


async def test_the_group_page_charts_its_size_over_a_range_of_its_own(
    signed_in: Page, gateway: RunningGateway, screenshots: Path
) -> None:
    seed_history(gateway)
    page = signed_in
    await page.goto(f"{gateway.url}/ui/#/group/web")
    card = page.locator("#group-size")
    await expect(card.locator("h2")).to_have_text("Group size · last 24 hours")
    # inside 24 h: the scale-in, the failed scale-out (and its end), the last scale-out
    await expect(card.locator("svg polyline")).to_have_attribute("points", _points_count(1 + 2 * 5))
    await card.locator('button[data-range="7d"]').click()
    await expect(card.locator("h2")).to_have_text("Group size · last 7 days")
    await expect(card.locator("svg polyline")).to_have_attribute("points", _points_count(1 + 2 * 6))
    await page.screenshot(path=screenshots / "group-size-7d.png", full_page=True)
    await page.click("#lang")
    await expect(page.locator("#group-size h2")).to_have_text("그룹 크기 · 최근 24시간")  # drawn anew: the default
    await expect(page.locator("#group-size-range button")).to_have_text(["15분", "1시간", "6시간", "24시간", "7일"])
    await page.click("#lang")


async def test_the_dashboard_charts_what_each_loop_decision_read(
    signed_in: Page, gateway: RunningGateway, screenshots: Path
) -> None:
    """The level-triggered loop stores its readings under ``observed.condition`` (built here by the
    scaler's own models); a decision that read nothing (a held lease) is not a point."""
    now = datetime.now(UTC)

    def decision(n: int, observed: Observed, allowed: bool) -> DecisionView:
        return DecisionView(
            id=f"00000000-0000-4000-8000-00000000000{n}",
            group="web",
            at=now - timedelta(minutes=10 - n),
            allowed=allowed,
            delta=1 if allowed else 0,
            reason="allowed" if allowed else "in_progress",
            message="high usage" if allowed else "another decision or activity holds the group's lease",
            trigger="evaluation",
            rule="step",
            observed=observed.summary(),
        )

    def read(cpu: float) -> Observed:
        why = f"cpu {cpu:.1f}%, memory 20.0%"
        return Observed(free_ips=5, condition=Condition(available=True, why=why, cpu=cpu, memory=20.0, points=2))

    gateway.scaler.decisions.extend(
        [
            decision(1, read(95.0), True),
            decision(2, Observed(in_progress="held elsewhere"), False),
            decision(3, read(88.5), True),
        ]
    )
    page = signed_in
    await page.goto(f"{gateway.url}/ui/#/dashboard")
    chart = page.locator("#observed-chart")
    await expect(chart).to_have_attribute("data-points", "2")
    await expect(chart.locator("svg polyline")).to_have_count(2)  # CPU and memory
    await chart.screenshot(path=screenshots / "dashboard-observed-at-decisions.png")

"""The simulation tier's models hold to the semantics they model, with exact numbers."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.scaler.domain.model import ScalingGroup, TargetTrackingPolicy, Thresholds
from shared.errors import ServiceUnavailable
from shared.messages import AlertFired, AlertResolved, ScaleDirection
from testkit.clock import FakeClock

from .models import (
    AlertmanagerModel,
    CapacityExhausted,
    LoadCurve,
    ModelMetrics,
    PrometheusModel,
    RuleSpec,
    SentAlert,
    SimTime,
    TargetSeries,
    VmState,
    World,
    fingerprint_of,
    rate_of_points,
)


@pytest.fixture
def time(clock: FakeClock) -> SimTime:
    return SimTime(clock)


def monitored(
    time: SimTime, load: float | LoadCurve, vms: int = 1, *, offsets: tuple[float, ...] = (), **world: float
) -> tuple[World, PrometheusModel]:
    """A world of ``vms`` base VMs in service, each a target of job ``web``."""
    curve = load if isinstance(load, LoadCurve) else LoadCurve.constant(load)
    w = World(time, curve, **world)  # type: ignore[arg-type]
    prom = PrometheusModel(time, w)
    for i in range(vms):
        w.add_vm(f"web-{i}", f"127.0.60.{i + 1}")
        prom.register("web", f"web-{i}", f"127.0.60.{i + 1}", offset_s=offsets[i] if offsets else 0.0)
    return w, prom


def at_seconds(clock: FakeClock, time: SimTime, seconds: float) -> None:
    clock.advance(seconds - time.now())


# -- rate() --------------------------------------------------------------------------------


def test_rate_of_a_counter_growing_steadily_is_its_slope() -> None:
    points = [(t * 1000, 1000 + 0.6 * t) for t in range(0, 601, 15)]
    assert rate_of_points(points, 600_000, 300_000) == pytest.approx(0.6, rel=1e-12)
    offset = [(t * 1000, 1000 + 0.6 * t) for t in range(5, 601, 15)]  # 305 … 590 in the window
    assert rate_of_points(offset, 600_000, 300_000) == pytest.approx(0.6, rel=1e-12)


def test_a_counter_reset_mid_window_adds_the_value_before_the_reset() -> None:
    before = [(t * 1000, 1000.0 + t) for t in range(0, 151, 15)]  # 1000 … 1150
    after = [(t * 1000, 10.0 + (t - 165)) for t in range(165, 301, 15)]  # 10 … 145
    # increase = last - first + the pre-reset value = 145 - 1000 + 1150 = 295, window fully covered
    assert rate_of_points(before + after, 300_000, 300_000) == pytest.approx(295 / 300, rel=1e-12)
    series = TargetSeries()
    for t, v in before + after:
        series.append(t, v, 1.0, 2.0)
    assert series.cpu(300_000, 300_000, left_open=False, zero_limit_first=True) == pytest.approx(
        100 - 295 / 300 * 100, rel=1e-12
    )


def test_a_window_with_samples_far_from_its_start_extrapolates_half_an_interval() -> None:
    # Two samples 15 s apart at the end of a 300 s window: 9 idle seconds extrapolated by 7.5 s
    # at the start, divided by the whole range — the rate of a new target reads low.
    assert rate_of_points([(0, 1e6), (15_000, 1e6 + 9)], 15_000, 300_000) == pytest.approx(9 * 1.5 / 300)


def test_a_counter_is_not_extrapolated_below_zero() -> None:
    # first value 3 at a slope of 1/s: the zero point is 3 s before the first sample, not 7.5
    assert rate_of_points([(10_000, 3.0), (25_000, 18.0)], 25_000, 300_000) == pytest.approx(15 * (18 / 15) / 300)


def test_prometheus_3_selects_a_left_open_window() -> None:
    points = [(0, 0.0), (300_000, 300.0)]
    assert rate_of_points(points, 300_000, 300_000) == pytest.approx(1.0)
    assert rate_of_points(points, 300_000, 300_000, left_open=True) is None


# -- the world -----------------------------------------------------------------------------


def test_two_vms_sharing_150_vm_percent_run_at_75_each(time: SimTime, clock: FakeClock) -> None:
    world, prom = monitored(time, 150, vms=2, memory_base=10, memory_per_cpu=0.5)
    at_seconds(clock, time, 600)
    prom.advance_to()
    assert world.cpu("web-0") == world.cpu("web-1") == 75
    points = prom.per_instance("web")
    assert [round(p.cpu or 0, 9) for p in points.values()] == [75.0, 75.0]
    assert [p.memory for p in points.values()] == [pytest.approx(47.5)] * 2
    assert prom.instant("web") == (pytest.approx(75.0, abs=1e-9), pytest.approx(47.5))


def test_the_cpu_expression_of_a_steady_vm_is_its_cpu(time: SimTime, clock: FakeClock) -> None:
    _, prom = monitored(time, 80, vms=2, offsets=(0, 5))
    at_seconds(clock, time, 600)
    prom.advance_to()
    assert {k: round(p.cpu or 0, 9) for k, p in prom.per_instance("web").items()} == {
        "127.0.60.1": 40.0,
        "127.0.60.2": 40.0,
    }


def test_a_new_target_reads_busy_until_its_rate_window_fills(time: SimTime, clock: FakeClock) -> None:
    _, prom = monitored(time, 40)
    at_seconds(clock, time, 15)
    prom.advance_to()
    # idle 0.6/s: 9 s over the first 15 s, extrapolated to 22.5 s, over a 300 s range
    assert prom.instant("web")[0] == pytest.approx(100 - 9 * 1.5 / 300 * 100)


def test_a_vm_clones_boots_and_runs_and_only_then_takes_load(time: SimTime) -> None:
    world = World(time, LoadCurve.constant(120), clone_s=60, boot_s=30)
    world.add_vm("web-0", "127.0.60.1")
    world.clone("web-1", "127.0.60.2", at=100)
    world.advance_to(160)
    assert world.vms["web-1"].state is VmState.POWERED_OFF
    world.power_on("web-1", at=170)
    world.set_in_service("web-1", True, at=200)
    assert world.vms["web-1"].state is VmState.RUNNING
    assert world.vms["web-1"].since == {
        VmState.CLONING: 100,
        VmState.POWERED_OFF: 160,
        VmState.BOOTING: 170,
        VmState.RUNNING: 200,
    }
    assert [(t.at, t.vm, t.new) for t in world.take_transitions()][1:] == [
        (100, "web-1", VmState.CLONING),
        (160, "web-1", VmState.POWERED_OFF),
        (170, "web-1", VmState.BOOTING),
        (200, "web-1", VmState.RUNNING),
    ]
    assert world.cpu("web-0", at=200) == world.cpu("web-1", at=200) == 60


def test_clones_fail_while_capacity_is_exhausted(time: SimTime) -> None:
    world = World(time, LoadCurve.constant(0))
    world.capacity_exhausted = True
    with pytest.raises(CapacityExhausted):
        world.clone("web-1", "127.0.60.2")
    assert "web-1" not in world.vms


def test_load_curves_have_their_shapes() -> None:
    assert LoadCurve.constant(190)(12_345) == 190
    ramp = LoadCurve.ramp(100, 300, over_s=200, start_s=50)
    assert [ramp(t) for t in (0, 50, 150, 250, 999)] == [100, 100, 200, 300, 300]
    spike = LoadCurve.spike(50, 400, start_s=100, duration_s=60)
    assert [spike(t) for t in (99, 100, 159, 160)] == [50, 400, 400, 50]
    plateau = LoadCurve.plateau(50, 250, start_s=100, duration_s=100, ramp_s=50)
    assert [plateau(t) for t in (100, 125, 150, 249, 275, 300)] == [50, 150, 250, 250, 150, 50]
    diurnal = LoadCurve.diurnal(40, 240, peak_at_s=14 * 3600)
    assert diurnal(14 * 3600) == pytest.approx(240) and diurnal(2 * 3600) == pytest.approx(40)
    piecewise = LoadCurve.piecewise([(100, 80), (100, LoadCurve.ramp(80, 180, over_s=100)), (None, 20)])
    assert [piecewise(t) for t in (0, 100, 150, 200, 10_000)] == [80, 80, 130, 20, 20]


def test_noise_is_deterministic_whatever_order_it_is_sampled_in() -> None:
    times = [0, 15, 30, 900, 45, 3600]
    a = LoadCurve.noisy(100, 20, seed=7)
    b = LoadCurve.noisy(100, 20, seed=7)
    forwards = [a(t) for t in times]
    backwards = [b(t) for t in reversed(times)][::-1]
    assert forwards == backwards
    assert all(80 <= v <= 120 for v in forwards) and len(set(forwards)) > 1
    assert LoadCurve.noisy(100, 20, seed=8)(0) != forwards[0]


# -- staleness -----------------------------------------------------------------------------


def test_a_deleted_vm_goes_stale_at_its_first_failed_scrape(time: SimTime, clock: FakeClock) -> None:
    world, prom = monitored(time, 100, vms=2)
    at_seconds(clock, time, 607)
    world.delete("web-1")
    at_seconds(clock, time, 900)
    prom.advance_to()
    assert prom.up("web", "web-1") is False
    assert prom.per_instance("web", 614)["127.0.60.2"].memory == pytest.approx(30)
    # memory (an instant selector) ends at the staleness marker written by the failed scrape …
    assert prom.per_instance("web", 615)["127.0.60.2"].memory is None
    # … while rate() ignores markers: the CPU lives on while 2 samples remain in the window, and
    # reads ever busier as they cover less of it (585 and 600: 7.5 idle seconds, 7.5 s added)
    assert prom.per_instance("web", 885)["127.0.60.2"].cpu == pytest.approx(100 - 7.5 * 1.5 / 300 * 100)
    assert "127.0.60.2" not in prom.per_instance("web", 900)
    assert [t.vm_name for t in prom.targets("web")] == ["web-0", "web-1"]


def test_a_deregistered_target_gets_its_marker_one_interval_and_a_tenth_later(time: SimTime, clock: FakeClock) -> None:
    _, prom = monitored(time, 100, vms=2)
    at_seconds(clock, time, 607)
    prom.deregister("web", "web-1")
    at_seconds(clock, time, 630)
    prom.advance_to()
    # the loop stopped at 607; the marker for slot 615 is written at 615 + 16.5 s
    assert prom.per_instance("web", 620)["127.0.60.2"].memory == pytest.approx(30)
    at_seconds(clock, time, 632)
    prom.advance_to()
    assert prom.per_instance("web", 620)["127.0.60.2"].memory is None
    assert [t.vm_name for t in prom.targets("web")] == ["web-0"]


def test_without_markers_a_series_lasts_the_five_minute_lookback(time: SimTime, clock: FakeClock) -> None:
    _, prom = monitored(time, 50)
    at_seconds(clock, time, 607)
    prom.set_down(True)  # no scrapes from 615: a gap, and no staleness markers
    with pytest.raises(ConnectionError):
        prom.instant("web")
    at_seconds(clock, time, 950)
    prom.set_down(False)
    # samples at 585 and 600 (7.5 idle seconds), 5 s from the window's start: extrapolated 5 + 7.5 s
    assert prom.instant("web", 880) == (pytest.approx(100 - 7.5 * (27.5 / 15) / 300 * 100), pytest.approx(30))
    assert prom.instant("web", 890) == (None, pytest.approx(30))  # one sample left in the window
    assert prom.instant("web", 900) == (None, pytest.approx(30))  # the lookback is [t - 5m, t]
    assert prom.instant("web", 900.001) == (None, None)
    assert prom.instant("web", 950) == (None, None)
    at_seconds(clock, time, 975)
    prom.advance_to()  # scraping resumes at the next slot, 960
    assert prom.instant("web", 960) == (None, pytest.approx(30))
    assert prom.instant("web", 975)[0] is not None


def test_a_reboot_resets_the_idle_counter_and_rate_absorbs_it(time: SimTime, clock: FakeClock) -> None:
    world, prom = monitored(time, 50)
    world.power_off("web-0", at=607)
    world.power_on("web-0", at=610)  # boots from 610, answers from 640, out of the pool: idle
    at_seconds(clock, time, 900)
    prom.advance_to()
    assert world.vms["web-0"].idle_seconds == pytest.approx(290)
    # samples 600 (before the reset) and 645 … 900: the increase is 290 - first + first
    assert prom.instant("web", 900)[0] == pytest.approx(100 - 290 / 300 * 100)


# -- rules ---------------------------------------------------------------------------------


def test_an_alert_is_pending_then_firing_after_its_for_duration(time: SimTime, clock: FakeClock) -> None:
    world, prom = monitored(time, 20, memory_base=90)
    prom.add_rules(RuleSpec("web", "web", memory_high=80, out_for_s=60, in_for_s=120))
    at_seconds(clock, time, 100)
    prom.advance_to()
    rule = prom.rule("web", "web_HighResourceUsage")
    # the first evaluation (0) ran before the target was registered
    assert rule is not None and rule.changes == [(15, "pending"), (75, "firing")]
    assert [(a.alertname, a.starts_at, a.ends_at, a.sent_at) for a in prom.sent] == [
        ("web_HighResourceUsage", 15, 75 + 240, 75)
    ]
    world.memory_base = 10
    at_seconds(clock, time, 140)
    prom.advance_to()
    assert rule.changes[-1] == (105, "resolved")
    assert [(a.starts_at, a.ends_at, a.sent_at, a.resolved) for a in prom.sent[1:]] == [(15, 105, 105, True)]
    assert prom.sent[0].labels == {
        "alertname": "web_HighResourceUsage",
        "severity": "warning",
        "service": "web",
        "instance": "all",
    }


def test_a_firing_alert_is_resent_every_resend_delay(time: SimTime, clock: FakeClock) -> None:
    _, prom = monitored(time, 20, memory_base=90)
    prom.add_rules(RuleSpec("web", "web", memory_high=80, out_for_s=60, in_for_s=120))
    at_seconds(clock, time, 300)
    prom.advance_to()
    assert [a.sent_at for a in prom.sent] == [75, 150, 225, 300]  # when last + 60 s < now
    assert {a.starts_at for a in prom.sent} == {15}


def test_a_long_for_state_survives_a_prometheus_restart(time: SimTime, clock: FakeClock) -> None:
    _, prom = monitored(time, 20, memory_base=90)
    prom.add_rules(RuleSpec("web", "web", memory_high=80, out_for_s=600, in_for_s=900))
    at_seconds(clock, time, 700)
    prom.advance_to()
    prom.set_down(True)
    at_seconds(clock, time, 800)
    prom.set_down(False)
    at_seconds(clock, time, 900)
    prom.advance_to()
    rule = prom.rule("web", "web_HighResourceUsage")
    assert rule is not None and rule.alert is not None
    # evaluations resume at 810; the state is restored after the second (825); the alert fires
    # again at 840 with the starts_at of its episode before the outage
    assert [(a.sent_at, a.starts_at) for a in prom.sent if a.sent_at > 700] == [(840, 15)]


# -- Alertmanager --------------------------------------------------------------------------


def high(starts_at: float, sent_at: float, ends_at: float = 100_000, service: str = "web") -> SentAlert:
    labels = RuleSpec(service, service).labels(f"{service}_HighResourceUsage")
    return SentAlert(labels, fingerprint_of(labels), starts_at, ends_at, sent_at)


def test_a_new_group_is_notified_after_group_wait(time: SimTime) -> None:
    am = AlertmanagerModel(time, group_wait_s=10, group_interval_s=10)
    am.receive([high(100, 100)], at=100)
    assert am.advance_to(109.999) == []
    [fired] = am.advance_to(110)
    assert isinstance(fired, AlertFired)
    assert (fired.group, fired.alertname, fired.direction) == ("web", "web_HighResourceUsage", ScaleDirection.OUT)
    assert fired.starts_at == time.at(100) and fired.occurred_at == time.at(110)
    assert fired.labels["service"] == "web" and fired.receiver == "jenkins-webhook-web-out"


def test_an_alert_older_than_group_wait_is_notified_at_once(time: SimTime) -> None:
    am = AlertmanagerModel(time, group_wait_s=10)
    am.receive([high(0, 300)], at=300)
    assert [m.occurred_at for m in am.advance_to(300)] == [time.at(300)]


def test_an_unchanged_firing_group_repeats_at_the_first_tick_after_repeat_interval(time: SimTime) -> None:
    am = AlertmanagerModel(time, group_wait_s=10, group_interval_s=10, repeat_interval_s=300, gateway_dedupe=False)
    am.receive([high(100, 100)], at=100)
    fired = am.advance_to(800)
    assert [m.occurred_at for m in fired] == [time.at(110), time.at(420), time.at(730)]
    assert len({m.message_id for m in fired}) == 1


def test_the_gateway_drops_repeats_of_an_episode(time: SimTime) -> None:
    am = AlertmanagerModel(time, repeat_interval_s=300)
    am.receive([high(100, 100)], at=100)
    assert len(am.advance_to(800)) == 1
    assert [n.at for n in am.notifications] == [110, 420, 730]


def test_a_new_episode_inside_one_group_interval_waits_for_the_repeat(time: SimTime) -> None:
    am = AlertmanagerModel(time, repeat_interval_s=300)
    am.receive([high(100, 100)], at=100)
    assert len(am.advance_to(110)) == 1
    am.receive([high(100, 112, ends_at=112)], at=112)  # resolved …
    am.receive([high(115, 115)], at=115)  # … and a new episode before the next tick
    # the notification log still holds the (label-hashed) alert as firing: only the repeat tells
    assert [(m.starts_at, m.occurred_at) for m in am.advance_to(500)] == [(time.at(115), time.at(420))]


def test_a_silenced_alert_is_not_delivered_until_its_silence_ends(time: SimTime) -> None:
    am = AlertmanagerModel(time, group_wait_s=10, group_interval_s=10)
    am.silence("web_HighResourceUsage", until=500, at=0)
    am.receive([high(100, 100)], at=100)
    assert am.advance_to(499) == [] and am.notifications == []
    assert [m.occurred_at for m in am.advance_to(500)] == [time.at(500)]


def test_an_expired_silence_lets_the_alert_through(time: SimTime) -> None:
    am = AlertmanagerModel(time)
    am.silence("web_HighResourceUsage", until=10_000, at=0)
    am.receive([high(100, 100)], at=100)
    assert am.advance_to(200) == []
    am.expire("web_HighResourceUsage", at=205)
    assert [m.occurred_at for m in am.advance_to(300)] == [time.at(210)]


def test_a_lost_notification_is_recovered_only_by_the_repeat(time: SimTime) -> None:
    am = AlertmanagerModel(time, repeat_interval_s=300)
    am.lose_next(1)
    am.receive([high(100, 100)], at=100)
    assert am.advance_to(419) == []
    assert [m.occurred_at for m in am.advance_to(420)] == [time.at(420)]
    assert [n.fate for n in am.notifications] == ["lost", "delivered"]


def test_a_duplicated_notification_is_delivered_twice_unless_the_gateway_dedupes(time: SimTime) -> None:
    raw = AlertmanagerModel(time, gateway_dedupe=False)
    raw.duplicate_next(1)
    raw.receive([high(100, 100)], at=100)
    twice = raw.advance_to(110)
    assert len(twice) == 2 and twice[0] == twice[1]
    deduped = AlertmanagerModel(time)
    deduped.duplicate_next(1)
    deduped.receive([high(100, 100)], at=100)
    assert len(deduped.advance_to(110)) == 1
    assert [n.fate for n in deduped.notifications] == ["duplicated"]


def test_resolved_alerts_are_published_only_with_send_resolved(time: SimTime) -> None:
    quiet = AlertmanagerModel(time)
    loud = AlertmanagerModel(time, send_resolved=True)
    for am in (quiet, loud):
        am.receive([high(100, 100)], at=100)
        am.receive([high(100, 150, ends_at=150)], at=150)
    assert [type(m) for m in quiet.advance_to(200)] == [AlertFired]
    resolved = loud.advance_to(200)
    assert [type(m) for m in resolved] == [AlertFired, AlertResolved]
    assert isinstance(resolved[1], AlertResolved) and resolved[1].ends_at == time.at(150)
    assert resolved[1].occurred_at == time.at(150)  # the tick at 150 runs after the alert arrived


def test_an_alert_prometheus_stops_sending_resolves_at_its_valid_until(time: SimTime) -> None:
    am = AlertmanagerModel(time, send_resolved=True)
    am.receive([high(100, 100, ends_at=340)], at=100)
    published = am.advance_to(400)
    assert [(type(m).__name__, m.occurred_at) for m in published] == [
        ("AlertFired", time.at(110)),
        ("AlertResolved", time.at(340)),
    ]


def test_prometheus_alerts_reach_the_gateway_once_per_episode(time: SimTime, clock: FakeClock) -> None:
    world = World(time, LoadCurve.constant(20), memory_base=90)
    am = AlertmanagerModel(time)
    prom = PrometheusModel(time, world, alertmanager=am)
    prom.add_rules(RuleSpec("web", "web", memory_high=80, out_for_s=60, in_for_s=120))
    world.add_vm("web-0", "127.0.60.1")
    prom.register("web", "web-0", "127.0.60.1")
    at_seconds(clock, time, 1000)
    prom.advance_to()
    [fired] = am.advance_to()
    # pending at 15, firing at 75: older than group_wait, so notified at once
    assert (fired.starts_at, fired.occurred_at) == (time.at(15), time.at(75))
    assert [n.at for n in am.notifications] == [75, 385, 695]  # repeats at the tick after 300 s


# -- the MetricsQuery adapter --------------------------------------------------------------


def group(**overrides: object) -> ScalingGroup:
    fields: dict[str, object] = {
        "name": "web",
        "vm_prefix": "web",
        "template": "tpl",
        "prometheus_job": "web",
        "min_size": 1,
        "max_size": 5,
        "pool": "web-pool",
        "vip": "127.0.60.250",
        "ip_pool": "lab",
        "thresholds": Thresholds(),
    }
    return ScalingGroup.model_validate(fields | overrides)


async def test_history_is_the_busiest_instance_every_step(time: SimTime, clock: FakeClock) -> None:
    world, prom = monitored(time, 120, vms=2)
    world.set_hog("web-1", 20)
    metrics = ModelMetrics(prom)
    clock.advance(900)
    now = clock.now()
    history = await metrics.history(group(), now - timedelta(seconds=300), now, 15)
    assert history.available and history.step_s == 15 and history.rate_window_s == 300
    assert len(history.points) == 21
    assert [p.at for p in history.points] == [now - timedelta(seconds=300 - 15 * k) for k in range(21)]
    assert {round(p.cpu or 0, 9) for p in history.points} == {80.0}
    assert [p.memory for p in history.points] == [pytest.approx(30)] * 21
    assert "rate(node_cpu_seconds_total" in history.queries["cpu"] and "[5m]" in history.queries["cpu"]
    early = await metrics.history(group(), time.at(-60), time.at(30), 15)
    assert [p.at for p in early.points] == [time.at(0), time.at(15), time.at(30)]
    assert early.points[0].cpu is None and early.points[0].memory == pytest.approx(30)


async def test_read_gives_the_busiest_and_the_average(time: SimTime, clock: FakeClock) -> None:
    world, prom = monitored(time, 120, vms=2)
    world.set_hog("web-1", 20)
    metrics = ModelMetrics(prom)
    clock.advance(900)
    reading = await metrics.read(group(), TargetTrackingPolicy(target=50))
    assert reading.available
    assert (round(reading.cpu or 0, 9), round(reading.value or 0, 9)) == (80.0, 70.0)
    assert await metrics.target_count("web") == 2 and await metrics.job_exists("web")
    assert not await metrics.job_exists("api")


async def test_an_unreachable_prometheus_answers_unavailable(time: SimTime, clock: FakeClock) -> None:
    _, prom = monitored(time, 120)
    metrics = ModelMetrics(prom)
    clock.advance(60)
    prom.set_down(True)
    reading = await metrics.read(group())
    history = await metrics.history(group(), clock.now() - timedelta(seconds=60), clock.now(), 15)
    assert (reading.available, reading.error) == (False, "Prometheus unreachable")
    assert (history.available, history.error, history.points) == (False, "Prometheus unreachable", ())
    with pytest.raises(ServiceUnavailable):
        await metrics.target_count("web")


def test_the_same_scenario_gives_the_same_timeline() -> None:
    def run() -> tuple[list[tuple[str, object]], list[SentAlert], list[float]]:
        clock = FakeClock()
        time = SimTime(clock)
        world = World(time, LoadCurve.noisy(LoadCurve.diurnal(40, 300, period_s=7200), 30, seed=3))
        am = AlertmanagerModel(time, gateway_dedupe=False)
        prom = PrometheusModel(time, world, alertmanager=am)
        prom.add_rules(RuleSpec("web", "web", out_for_s=120, in_for_s=300))
        for i in range(2):
            world.add_vm(f"web-{i}", f"127.0.60.{i + 1}")
            prom.register("web", f"web-{i}", f"127.0.60.{i + 1}", offset_s=3 * i)
        published = []
        for _ in range(6 * 240):
            clock.advance(15)
            prom.advance_to()
            published += [(m.alertname, m.occurred_at) for m in am.advance_to()]
        return published, prom.sent, [n.at for n in am.notifications]

    first, second = run(), run()
    assert first == second and first[0] and first[1]

"""The decision is pure and explains itself (docs/original-system.md, lessons 1-11)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.scaler.domain import (
    Allow,
    Block,
    BlockReason,
    Instance,
    InstanceState,
    ManualChange,
    MetricReading,
    Observed,
    Process,
    Recommendation,
    ScheduledAction,
    StepPolicy,
    TargetTrackingPolicy,
    decide,
    scale_in_silence_wanted,
    target_tracking_desired,
)
from services.scaler.domain.model import FailureBackoff
from shared.messages import ScaleDirection
from tests.unit.scaler.scaler_factories import NOW, alert, conditioned, group, high, instances, low, observed

STEP = StepPolicy()
IN = "web_LowResourceUsage"

CASES = [
    # (id, group overrides, observed overrides, policy, expected delta or block reason)
    ("high alert with room scales out one step", {}, {}, STEP, 1),
    ("step size is bounded by max", {"scale_out_step": 5}, {}, STEP, 1),
    ("step size of two when room allows", {"scale_out_step": 2, "max_size": 6}, {}, STEP, 2),
    ("disabled group never scales", {"enabled": False}, {}, STEP, BlockReason.DISABLED),
    (
        "unknown alert name is rejected, not scale-out",
        {},
        {"alert": alert("web_Whatever")},
        STEP,
        BlockReason.UNKNOWN_ALERT,
    ),
    ("alert of another service is rejected", {}, {"alert": alert(service="api")}, STEP, BlockReason.UNKNOWN_ALERT),
    (
        "substring of the alert name is not enough",
        {},
        {"alert": alert("x_web_HighResourceUsage")},
        STEP,
        BlockReason.UNKNOWN_ALERT,
    ),
    ("at max blocks scale-out", {}, {"instances": instances(4, base=2)}, STEP, BlockReason.AT_MAX),
    (
        "in-flight instances count toward max",
        {},
        {"instances": instances(3, base=2) + instances(1, state=InstanceState.PROVISIONING, group_name="web-x")},
        STEP,
        BlockReason.AT_MAX,
    ),
    (
        "terminated instances do not count",
        {},
        {"instances": instances(3, base=2) + instances(2, state=InstanceState.TERMINATED, group_name="old")},
        STEP,
        1,
    ),
    ("empty IP pool blocks with its own reason", {}, {"free_ips": 0}, STEP, BlockReason.IP_POOL_EXHAUSTED),
    ("in-progress activity blocks", {}, {"in_progress": "a-1"}, STEP, BlockReason.IN_PROGRESS),
    ("suspended scale-out blocks", {"suspended": frozenset({Process.SCALE_OUT})}, {}, STEP, BlockReason.SUSPENDED),
    ("suspended alert processing blocks", {"suspended": frozenset({Process.ALERTS})}, {}, STEP, BlockReason.SUSPENDED),
    (
        "cooldown blocks a second scale-out",
        {},
        {"last_scale_out_at": NOW - timedelta(seconds=10)},
        STEP,
        BlockReason.COOLDOWN,
    ),
    ("scale-in cooldown does not block scale-out", {}, {"last_scale_in_at": NOW - timedelta(seconds=10)}, STEP, 1),
    ("expired cooldown allows", {}, {"last_scale_out_at": NOW - timedelta(seconds=301)}, STEP, 1),
    ("alert no longer confirmed by Prometheus is stale", {}, {"metrics": low()}, STEP, BlockReason.STALE_ALERT),
    (
        "Prometheus down: a fresh alert still scales out",
        {},
        {"metrics": MetricReading(available=False, error="down")},
        STEP,
        1,
    ),
    (
        "Prometheus down: a fresh alert from before the last activity ended does not",
        {},
        {
            "metrics": MetricReading(available=False, error="down"),
            "alert": alert(received=NOW - timedelta(seconds=50)),
            "last_activity_end_at": NOW - timedelta(seconds=1),
        },
        STEP,
        BlockReason.STALE_ALERT,
    ),
    (
        "Prometheus down: a fresh alert received after the last activity ended still scales out",
        {},
        {
            "metrics": MetricReading(available=False, error="down"),
            "alert": alert(received=NOW - timedelta(seconds=5)),
            "last_activity_end_at": NOW - timedelta(seconds=50),
        },
        STEP,
        1,
    ),
    (
        "Prometheus down: an old alert does not",
        {},
        {"metrics": MetricReading(available=False), "alert": alert(received=NOW - timedelta(minutes=10))},
        STEP,
        BlockReason.STALE_ALERT,
    ),
    (
        "low alert above min scales in",
        {},
        {"alert": alert(IN), "metrics": low(), "instances": instances(4, base=2)},
        STEP,
        -1,
    ),
    (
        "at min blocks scale-in",
        {},
        {"alert": alert(IN), "metrics": low(), "instances": instances(2, base=0)},
        STEP,
        BlockReason.AT_MIN,
    ),
    (
        "only base VMs above min: nothing to remove",
        {},
        {"alert": alert(IN), "metrics": low(), "instances": instances(3, base=3)},
        STEP,
        BlockReason.NO_VICTIMS,
    ),
    (
        "Prometheus down never scales in",
        {},
        {"alert": alert(IN), "metrics": MetricReading(available=False), "instances": instances(4, base=2)},
        STEP,
        BlockReason.METRICS_UNAVAILABLE,
    ),
    (
        "scale-in needs every VM low on both CPU and memory",
        {},
        {
            "alert": alert(IN),
            "metrics": MetricReading(available=True, cpu=5, memory=50),
            "instances": instances(4, base=2),
        },
        STEP,
        BlockReason.STALE_ALERT,
    ),
    (
        "scale-in step never goes below min",
        {"scale_in_step": 3},
        {"alert": alert(IN), "metrics": low(), "instances": instances(4, base=0)},
        STEP,
        -2,
    ),
    (
        "scale-in cooldown is its own",
        {},
        {
            "alert": alert(IN),
            "metrics": low(),
            "instances": instances(4, base=2),
            "last_scale_in_at": NOW - timedelta(seconds=599),
        },
        STEP,
        BlockReason.COOLDOWN,
    ),
    ("manual desired scales out", {}, {"alert": None, "metrics": None}, ManualChange(desired=4), 1),
    ("manual ignores cooldown by default", {}, {"last_scale_out_at": NOW}, ManualChange(delta=1), 1),
    (
        "manual may honour cooldown",
        {},
        {"last_scale_out_at": NOW},
        ManualChange(delta=1, honor_cooldown=True),
        BlockReason.COOLDOWN,
    ),
    ("manual above max is refused", {}, {}, ManualChange(desired=9), BlockReason.AT_MAX),
    ("manual below min is refused", {}, {}, ManualChange(desired=1), BlockReason.AT_MIN),
    ("manual to the current size is no change", {}, {}, ManualChange(desired=3), BlockReason.NO_CHANGE),
    ("scheduled action sets desired", {"max_size": 6}, {}, ScheduledAction(name="am", cron="0 8 * * *", desired=5), 2),
    ("scheduled desired is clamped to max", {}, {}, ScheduledAction(name="am", cron="0 8 * * *", desired=9), 1),
    (
        "suspended schedules block",
        {"suspended": frozenset({Process.SCHEDULED})},
        {},
        ScheduledAction(name="am", cron="0 8 * * *", desired=4),
        BlockReason.SUSPENDED,
    ),
    (
        "target tracking scales out proportionally",
        {"max_size": 10},
        {"metrics": MetricReading(available=True, value=90)},
        TargetTrackingPolicy(target=45),
        3,
    ),
    (
        "target tracking within tolerance does nothing",
        {},
        {"metrics": MetricReading(available=True, value=48)},
        TargetTrackingPolicy(target=45),
        BlockReason.NO_CHANGE,
    ),
    (
        "target tracking without metrics is blocked",
        {},
        {"metrics": MetricReading(available=False)},
        TargetTrackingPolicy(target=45),
        BlockReason.METRICS_UNAVAILABLE,
    ),
]


@pytest.mark.parametrize(("gover", "oover", "policy", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_decision_table(gover: dict, oover: dict, policy, expected) -> None:
    g = group(**gover)
    decision = decide(g, policy, conditioned(g, observed(**oover)), NOW)
    if isinstance(expected, BlockReason):
        assert isinstance(decision, Block), decision
        assert decision.reason is expected
        assert decision.message
    else:
        assert isinstance(decision, Allow), decision
        assert decision.delta == expected


def test_cooldown_block_says_how_long_remains() -> None:
    decision = decide(group(), STEP, observed(last_scale_out_at=NOW - timedelta(seconds=100)), NOW)
    assert isinstance(decision, Block)
    assert decision.retry_after_s == pytest.approx(200)


def test_at_max_is_reported_before_the_cooldown_is_considered() -> None:
    decision = decide(group(), STEP, observed(instances=instances(4), last_scale_out_at=NOW), NOW)
    assert isinstance(decision, Block) and decision.reason is BlockReason.AT_MAX


def test_target_tracking_down_waits_for_the_stabilization_window() -> None:
    policy = TargetTrackingPolicy(target=50, down_stabilization_s=300)
    history = (Recommendation(at=NOW - timedelta(seconds=100), desired=4),)
    obs = observed(instances=instances(4), metrics=MetricReading(available=True, value=10), recommendations=history)
    decision = decide(group(max_size=6), policy, obs, NOW)
    assert isinstance(decision, Block) and decision.reason is BlockReason.NO_CHANGE
    old = (Recommendation(at=NOW - timedelta(seconds=400), desired=4),)
    later = decide(group(max_size=6), policy, obs.model_copy(update={"recommendations": old}), NOW)
    assert isinstance(later, Allow) and later.delta == -2


def test_target_tracking_desired_is_hpa_formula() -> None:
    assert target_tracking_desired(4, 75, TargetTrackingPolicy(target=50)) == 6
    assert target_tracking_desired(4, 52, TargetTrackingPolicy(target=50)) == 4


def test_silence_follows_the_count() -> None:
    assert scale_in_silence_wanted(group(), 2)
    assert not scale_in_silence_wanted(group(), 3)
    assert not scale_in_silence_wanted(group(enabled=False), 1)


# -- properties -------------------------------------------------------------------------------

sizes = st.integers(min_value=0, max_value=12)


@st.composite
def scenarios(draw: st.DrawFn) -> tuple:
    min_size = draw(st.integers(min_value=1, max_value=5))
    max_size = draw(st.integers(min_value=min_size, max_value=10))
    g = group(
        min_size=min_size,
        max_size=max_size,
        scale_out_step=draw(st.integers(1, 4)),
        # a step the anti-flap lint accepts at the default thresholds (30 % * (min + step) / min < 80 %)
        scale_in_step=draw(st.integers(1, max(1, min(4, (5 * min_size - 1) // 3)))),
        suspended=frozenset(draw(st.sets(st.sampled_from(list(Process)), max_size=1))),
    )
    n = draw(sizes)
    base = draw(st.integers(0, n))
    insts = list(instances(n, base=base))
    if insts and draw(st.booleans()):
        insts[-1] = insts[-1].model_copy(update={"protected": True})
    name = draw(st.sampled_from(["web_HighResourceUsage", IN, "web_Other"]))
    metrics = draw(
        st.sampled_from(
            [high(), low(), MetricReading(available=False), MetricReading(available=True, cpu=50, memory=50)]
        )
    )
    obs = Observed(
        instances=tuple(insts),
        free_ips=draw(st.integers(0, 5)),
        alert=alert(name, received=NOW - timedelta(seconds=draw(st.integers(0, 600)))),
        metrics=metrics,
        in_progress=draw(st.sampled_from([None, None, "a-1"])),
        last_scale_out_at=draw(st.sampled_from([None, NOW - timedelta(seconds=30), NOW - timedelta(hours=1)])),
        last_scale_in_at=draw(st.sampled_from([None, NOW - timedelta(seconds=30), NOW - timedelta(hours=1)])),
        failure_backoff=draw(
            st.sampled_from(
                [None, None]
                + [
                    FailureBackoff(direction=d, until=NOW + timedelta(seconds=s), activity_id="a-0", reason="boom")
                    for d in ScaleDirection
                    for s in (-5, 30)
                ]
            )
        ),
    )
    return g, obs


@given(scenarios())
def test_an_allowed_change_stays_within_limits_and_addresses(scenario: tuple) -> None:
    g, obs = scenario
    decision = decide(g, STEP, obs, NOW)
    if isinstance(decision, Allow):
        if decision.delta > 0:
            assert obs.size + decision.delta <= g.max_size
            assert decision.delta <= obs.free_ips
            assert decision.delta <= g.scale_out_step
        else:
            assert obs.size + decision.delta >= g.min_size
            assert -decision.delta <= obs.removable
            assert obs.metrics is not None and obs.metrics.available
        assert not obs.in_progress


@given(scenarios())
def test_a_cooldown_block_means_everything_else_allowed(scenario: tuple) -> None:
    g, obs = scenario
    decision = decide(g, STEP, obs, NOW)
    if isinstance(decision, Block) and decision.reason is BlockReason.COOLDOWN:
        cleared = obs.model_copy(update={"last_scale_out_at": None, "last_scale_in_at": None})
        assert isinstance(decide(g, STEP, cleared, NOW), Allow)


@given(scenarios())
def test_a_failure_backoff_block_means_only_the_cooldown_could_still_block(scenario: tuple) -> None:
    g, obs = scenario
    decision = decide(g, STEP, obs, NOW)
    if isinstance(decision, Block) and decision.reason is BlockReason.FAILURE_BACKOFF:
        cleared = decide(g, STEP, obs.model_copy(update={"failure_backoff": None}), NOW)
        assert isinstance(cleared, Allow) or cleared.reason is BlockReason.COOLDOWN


@given(scenarios())
def test_decide_is_deterministic_and_leaves_inputs_alone(scenario: tuple) -> None:
    g, obs = scenario
    before = (g.model_dump(), obs.model_dump())
    assert decide(g, STEP, obs, NOW) == decide(g, STEP, obs, NOW)
    assert (g.model_dump(), obs.model_dump()) == before


@given(scenarios())
def test_never_scale_in_without_prometheus(scenario: tuple) -> None:
    g, obs = scenario
    blind = obs.model_copy(update={"metrics": MetricReading(available=False)})
    decision = decide(g, STEP, blind, NOW)
    assert not (isinstance(decision, Allow) and decision.delta < 0)


def test_protected_and_base_instances_are_not_removable() -> None:
    protected = Instance(group="web", vm_name="p", state=InstanceState.IN_SERVICE, protected=True, created_at=NOW)
    assert not protected.removable
    assert not instances(1, base=1)[0].removable

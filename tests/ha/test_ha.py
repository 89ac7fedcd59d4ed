"""The HA tier: scale-outs and scale-ins on two replicas of every service and a three-node NATS
cluster while the faults of issue 15 hit at random (seeded) moments; afterwards everything adds up.

Faults, each once, at a random round and a random delay after its activity started:
* the NATS node leading the command stream is SIGKILLed, and started again after the round;
* one replica of each service (chosen at random) is SIGKILLed, and started again after the round;
* the scaler replica holding the group's lease is SIGSTOPped past the lease's TTL, then SIGCONTed.

A few changes come through alerts (the real Prometheus → Alertmanager → the webhook), the rest
through the API (manual scaling). The seed is printed first; ``HA_SEED=<seed>`` repeats a run.

Invariants, read at the end from the API and the real parts (vcsim, HAProxy, Prometheus, Redis):
every activity ended succeeded or rolled back; exactly one activity per allowed decision; no VM,
lease, member or target leaked or doubled; members = targets = in-service instances; every alert
episode the gateway took in ended in a decision.
"""

from __future__ import annotations

import os
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
import redis

from lab.system import wait_until
from shared.subjects import SERVICES
from tests.ha import world as w
from tests.ha.conftest import LEASE_TTL_S, HaSystem, node_named

pytestmark = pytest.mark.timeout(900)

PER_DIRECTION = int(os.environ.get("HA_PER_DIRECTION", "10"))
"""Scale-outs (and as many scale-ins) in the run, the alerts' included: 20 activities in all, as the
issue asks ("while 20 scale-outs and scale-ins run"); on the 2-core build machine one takes 10-18 s
with every service doubled, so 20 of each would not fit the tier's 10 minutes.
``HA_PER_DIRECTION=20`` runs 40."""
SCALE_OUTS = PER_DIRECTION + 1
"""One scale-out more than scale-ins: the run ends above min, so the final comparison of VMs,
leases, members and targets covers a VM vmscale made, not only the base VMs."""


@dataclass
class Fault:
    """One fault: ``inject`` during a round, ``heal`` once the round's activity ended."""

    name: str
    delay_s: float
    inject: Callable[[], str]
    heal: Callable[[], None] = lambda: None


def kill_replica(system: HaSystem, service: str, rng: random.Random) -> Fault:
    """SIGKILL one replica of ``service`` (chosen now), started again after the round."""
    replica = rng.choice(system.replicas.of(service))

    def inject() -> str:
        replica.kill()
        return f"SIGKILL {replica.name}"

    return Fault(f"kill {service}", rng.uniform(0.2, 4.0), inject, replica.start)


def kill_stream_leader(system: HaSystem, rng: random.Random) -> Fault:
    """SIGKILL the node leading the command stream; started again after the round."""
    killed: list[Any] = []

    def inject() -> str:
        leader = w.stream_leader(system, f"{system.prefix}_VMSCALE_COMMANDS")
        node = node_named(system.nodes, leader)
        node.kill()
        killed.append(node)
        return f"SIGKILL NATS node {leader} (command stream leader)"

    def heal() -> None:
        for node in killed:
            system.restart_node(node)

    return Fault("kill command stream leader", rng.uniform(0.2, 4.0), inject, heal)


def pause_lease_holder(system: HaSystem, rng: random.Random) -> Fault:
    """SIGSTOP the scaler replica holding the group's lease for twice its TTL, then SIGCONT."""

    def inject() -> str:
        holder = wait_until(lambda: w.lease_holder(system), 30, "a scaler replica holding the group's lease")
        replica = system.replicas.named(holder)
        replica.pause()
        time.sleep(LEASE_TTL_S * 2 + 1)
        replica.resume()
        return f"SIGSTOP {holder} (the lease holder) for {LEASE_TTL_S * 2 + 1:.0f} s, then SIGCONT"

    return Fault("pause lease holder", rng.uniform(0.2, 2.0), inject)


def scale_once(system: HaSystem, done: Counter[str]) -> str | None:
    """Ask for one change toward the direction with more rounds to go (within min and max); None
    while none is allowed yet (an activity running, a cooldown or back-off); else the activity's id."""
    size = w.group(system)["size"]
    outs, ins = SCALE_OUTS - done["scale_out"], PER_DIRECTION - done["scale_in"]
    delta = 1 if size <= w.MIN else -1 if size >= w.MAX else 1 if outs >= ins else -1
    reply = w.call(system, "POST", f"/api/v1/groups/{w.GROUP}/scale", json={"delta": delta})
    decision = reply["decision"]
    assert decision["reason"] in ("allowed", "in_progress", "failure_backoff", "cooldown", "at_min", "at_max"), decision
    return str(decision["activity_id"]) if decision["allowed"] else None


def running(system: HaSystem) -> list[dict[str, Any]]:
    """The group's activities that have not ended."""
    return [a for a in w.activities(system) if a["status"] not in w.TERMINAL]


def counts(system: HaSystem) -> Counter[str]:
    """Ended activities by kind."""
    return Counter(a["kind"] for a in w.activities(system) if a["status"] in w.TERMINAL)


def alert_round(system: HaSystem, cpu: float, kind: str, until_size: int) -> None:
    """Load every VM so an alert fires; wait for its scale activities to reach ``until_size``;
    back to a neutral load; wait for the alert to resolve."""
    addresses = [i["address"] for i in w.instances(system) if i["state"] == "in_service"]
    w.load(system, addresses, cpu=cpu, memory=4 if cpu < 20 else 20)
    wait_until(
        lambda: w.group(system)["size"] == until_size and not running(system),
        240,
        f"alert-driven {kind} to {until_size}",
        interval=1.0,
    )
    addresses = [i["address"] for i in w.instances(system) if i["state"] == "in_service"]
    w.load(system, addresses, cpu=50)


def group_alerts(system: HaSystem) -> list[dict[str, Any]]:
    """The group's alerts active in Alertmanager."""
    found = w.call(system, "GET", "/api/v1/alerts")["alerts"]
    return [a for a in found if str(a.get("labels", {}).get("alertname", "")).startswith(f"{w.GROUP}_")]


def test_scaling_with_replicas_killed_nats_leader_lost_and_lease_holder_paused(ha: HaSystem) -> None:
    seed = int(os.environ.get("HA_SEED") or random.SystemRandom().randrange(1, 1_000_000))
    print(f"\nHA seed {seed} (HA_SEED={seed} repeats this run's faults)")
    rng = random.Random(seed)
    started = time.monotonic()
    w.set_up(ha)
    print(f"set up in {time.monotonic() - started:.0f} s")

    # through alerts: up to max on load, down to min without it
    alert_round(ha, 95, "scale-outs", w.MAX)
    alert_round(ha, 5, "scale-ins", w.MIN)
    print(f"alert rounds done at {time.monotonic() - started:.0f} s: {dict(counts(ha))}")

    faults = [kill_stream_leader(ha, rng), pause_lease_holder(ha, rng)]
    faults += [kill_replica(ha, service, rng) for service in SERVICES]
    rng.shuffle(faults)
    rounds = SCALE_OUTS + PER_DIRECTION - sum(counts(ha).values())
    at = dict(zip(sorted(rng.sample(range(1, max(rounds, len(faults) + 1)), len(faults))), faults, strict=True))
    print("faults at rounds " + ", ".join(f"{index}: {fault.name}" for index, fault in at.items()))
    log: list[str] = []
    index = 0
    while (done := counts(ha))["scale_out"] < SCALE_OUTS or done["scale_in"] < PER_DIRECTION:
        activity_id = wait_until(lambda: scale_once(ha, done), 180, "a scale change allowed", interval=1.0)
        index += 1
        fault = at.pop(index, None)
        if fault is not None:
            time.sleep(fault.delay_s)
            log.append(f"{time.monotonic() - started:6.1f} s  {fault.inject()} during {activity_id}")
            print(log[-1])
        ended = wait_until(
            lambda a=activity_id: w.activity_ended(ha, a), 300, f"activity {activity_id} ended", interval=1.0
        )
        if fault is not None:
            fault.heal()
        print(f"{time.monotonic() - started:6.1f} s  round {index}: {ended['kind']} {ended['status']}")
    assert not at, f"faults never injected: {[f.name for f in at.values()]}"
    print(f"{sum(counts(ha).values())} activities at {time.monotonic() - started:.0f} s: {dict(counts(ha))}")

    check_invariants(ha)
    print(f"HA tier done in {time.monotonic() - started:.0f} s; faults:\n" + "\n".join(log))


def check_invariants(system: HaSystem) -> None:
    """Every invariant of the issue, each failing with what differs."""
    wait_until(system.all_instances_up, 180, f"every replica back (dead: {system.replicas.dead()})")
    wait_until(lambda: not running(system), 300, "no activity running")
    wait_until(lambda: not group_alerts(system), 120, "the group's alerts resolved", interval=1.0)
    acts = w.activities(system)
    unended = {a["id"]: a["status"] for a in acts if a["status"] not in ("succeeded", "rolled_back")}
    assert unended == {}, f"activities that ended neither succeeded nor rolled back: {unended}"

    allowed = w.decisions(system, allowed=True)
    assert all(d["allowed"] for d in allowed), "the API's allowed=true filter returned a blocked decision"
    per_activity = Counter(d["activity_id"] for d in allowed)
    doubled = {a: n for a, n in per_activity.items() if n != 1}
    assert doubled == {}, f"activities started by more than one decision: {doubled}"
    without_decision = sorted({a["id"] for a in acts} - set(per_activity))
    assert without_decision == [], f"activities no decision started: {without_decision}"
    unknown = sorted(set(per_activity) - {a["id"] for a in acts} - {None})
    assert unknown == [], f"allowed decisions naming activities the scaler does not have: {unknown}"
    without_activity = sorted(d["id"] for d in allowed if not d["activity_id"])
    assert without_activity == [], f"allowed decisions that started no activity: {without_activity}"

    live = w.instances(system)
    names = Counter(i["vm_name"] for i in live)
    assert [n for n, c in names.items() if c > 1] == [], f"instances recorded twice: {names}"
    in_service = sorted(i["address"] for i in live if i["state"] == "in_service")
    assert len(in_service) == len(live), f"instances not in service after every activity ended: {live}"
    vms = Counter(w.tagged_vms(system))
    assert [n for n, c in vms.items() if c > 1] == [], f"VMs doubled in vcsim: {vms}"
    grown = {i["vm_name"] for i in live if not i["base"]}
    assert grown, f"the run should end with a VM vmscale made in service: {live}"
    assert set(vms) == grown, f"vcsim's tagged VMs {sorted(vms)} != the grown instances {sorted(grown)}"

    pools = w.call(system, "GET", "/api/v1/ip-pools")
    held = [lease for pool in pools for lease in pool["leases"] if lease["state"] != "released"]
    held_names = Counter(lease["vm_name"] for lease in held)
    assert [n for n, c in held_names.items() if c > 1] == [], f"leases doubled: {held}"
    assert set(held_names) == grown, f"leased VMs {sorted(held_names)} != grown instances {sorted(grown)}"
    held_addresses = sorted(lease["address"] for lease in held)
    assert len(set(held_addresses)) == len(held_addresses), f"an address leased twice: {held_addresses}"

    def members_and_targets_match() -> bool:
        return sorted(w.haproxy_members(system)) == in_service == sorted(w.up_targets(system))

    try:
        wait_until(members_and_targets_match, 90, "HAProxy members = Prometheus targets = in-service instances")
    except TimeoutError:
        raise AssertionError(
            f"HAProxy members {sorted(w.haproxy_members(system))}, Prometheus targets "
            f"{sorted(t['address'] for t in w.prometheus_targets(system))} (up: {sorted(w.up_targets(system))}), "
            f"in service {in_service}"
        ) from None

    check_alert_episodes(system)


def check_alert_episodes(system: HaSystem) -> None:
    """Every firing episode the gateway claimed (its Redis ledger) has a decision triggered by it."""
    client = redis.Redis.from_url(system.redis_url)
    try:
        keys = [key.decode() for key in client.scan_iter(match="*:episode:*")]
    finally:
        client.close()
    episodes = {tuple(key.split(":episode:", 1)[1].split("|")[1:3]) for key in keys if key.endswith("|firing")}
    assert episodes, f"no firing alert episode reached the gateway (ledger keys: {keys})"
    alerts = [d for d in w.decisions(system) if d["trigger"].startswith("alert:")]
    decided = {
        (d["observed"]["alert"]["fingerprint"], d["observed"]["alert"]["starts_at"])
        for d in alerts
        if "alert" in d["observed"]
    }
    # a decision blocked before it read anything (the lease held by a running activity) names its
    # alert by trigger only: it counts for an episode that started before it
    blind = [str(d["at"]) for d in alerts if "alert" not in d["observed"]]
    missing = sorted(
        episode
        for episode in episodes
        if not any(fp == episode[0] and _same_instant(at, episode[1]) for fp, at in decided)
        and not any(_instant(at) >= _instant(episode[1]) for at in blind)
    )
    assert missing == [], f"alert episodes without a decision: {missing} (decided: {sorted(decided)})"


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _same_instant(a: str, b: str) -> bool:
    return _instant(a) == _instant(b)

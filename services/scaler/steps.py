"""The saga steps' table: one ``StepSpec`` per step — where it runs, its command, the replies
that end it, its timeout and its compensation (``STEPS``).

``command_for`` builds the command a step sends; ``StepTimeouts.of`` is a step's timeout;
``step_replies.match_reply`` finds which running step an event answers. Adding a step: add it
to ``domain.activity.Step`` and its plan (and ``COMPENSATIONS`` if something undoes it), then
one row here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from ipaddress import IPv4Address
from types import MappingProxyType
from typing import Any

from services.scaler.domain.model import Instance, IpPool, ScalingGroup
from services.scaler.domain.saga import COMPENSATIONS, Activity, Phase, Step, StepRun, Track
from shared import subjects
from shared.messages import (
    AddPoolMember,
    CloneVm,
    DeregisterTarget,
    DestroyVm,
    DrainPoolMember,
    Message,
    NetworkSpec,
    PowerOffVm,
    PowerOnVm,
    RegisterTarget,
    RemovePoolMember,
    deterministic_id,
)
from shared.subjects import Subject

__all__ = [
    "INSTANT_STEPS",
    "LOCAL_STEPS",
    "REPLY_SUBJECTS",
    "STEPS",
    "CommandInput",
    "Runs",
    "StepSpec",
    "StepTimeouts",
    "command_for",
]


@dataclass(frozen=True)
class StepTimeouts:
    """How long each kind of step may take before it counts as failed (and is retried)."""

    vm_s: float = 600.0
    power_on_s: float = 600.0
    monitoring_s: float = 180.0
    pool_s: float = 180.0
    health_s: float = 300.0
    hook_s: float = 900.0

    def of(self, step: Step, group: ScalingGroup) -> float:
        """The timeout of ``step`` in ``group`` (its ``StepSpec.timeout``)."""
        return STEPS[step].timeout(self, group)


@dataclass(frozen=True)
class CommandInput:
    """What a step's command is built from."""

    activity: Activity
    track: Track
    run: StepRun
    group: ScalingGroup
    instance: Instance | None
    pool: IpPool | None
    timeouts: StepTimeouts

    @property
    def envelope(self) -> dict[str, Any]:
        """Message id (deterministic per attempt, for dedupe) and correlation id."""
        a, r = self.activity, self.run
        return {
            "message_id": deterministic_id(a.id, self.track.vm_name, r.step, r.phase, r.attempts + 1),
            "correlation_id": a.id,
        }


Built = tuple[Subject[Any], Message]


def _clone(c: CommandInput) -> Built:
    group, vm = c.group, c.track.vm_name
    if c.pool is None:
        raise LookupError(f"IP pool {group.ip_pool} is gone")
    network = NetworkSpec(
        ip=IPv4Address(c.track.address or ""),
        prefix_length=c.pool.network.prefixlen,
        gateway=c.pool.gateway,
        dns_servers=c.pool.dns,
        network=group.network,
        hostname=vm,
    )
    return subjects.CMD_VM_CLONE, CloneVm(
        activity_id=c.activity.id,
        group=group.name,
        vm_name=vm,
        template=group.template,
        network=network,
        placement=group.placement,
        annotation=f"vmscale group={group.name} activity={c.activity.id}",
        power_on=False,
        **c.envelope,
    )


def _power_on(c: CommandInput) -> Built:
    aid, vm = c.activity.id, c.track.vm_name
    if c.run.phase is Phase.FORWARD:
        return subjects.CMD_VM_POWER_ON, PowerOnVm(
            activity_id=aid,
            vm_name=vm,
            expected_ip=IPv4Address(c.track.address or ""),
            expected_network=c.group.network,
            ip_timeout_s=c.timeouts.power_on_s,
            **c.envelope,
        )
    return subjects.CMD_VM_POWER_ON, PowerOnVm(activity_id=aid, vm_name=vm, **c.envelope)


def _power_off(c: CommandInput) -> Built:
    return subjects.CMD_VM_POWER_OFF, PowerOffVm(activity_id=c.activity.id, vm_name=c.track.vm_name, **c.envelope)


def _destroy(c: CommandInput) -> Built:
    uuid = c.instance.instance_uuid if c.instance is not None else None
    return subjects.CMD_VM_DESTROY, DestroyVm(
        activity_id=c.activity.id, vm_name=c.track.vm_name, expected_uuid=uuid, **c.envelope
    )


def _register(c: CommandInput) -> Built:
    group, vm = c.group, c.track.vm_name
    return subjects.CMD_MONITORING_REGISTER, RegisterTarget(
        activity_id=c.activity.id,
        group=group.name,
        job=group.prometheus_job,
        vm_name=vm,
        address=c.track.address or "",
        port=group.monitoring_port,
        labels={"service": group.name, "vmName": vm},
        timeout_s=c.timeouts.monitoring_s,
        **c.envelope,
    )


def _deregister(c: CommandInput) -> Built:
    return subjects.CMD_MONITORING_DEREGISTER, DeregisterTarget(
        activity_id=c.activity.id,
        job=c.group.prometheus_job,
        vm_name=c.track.vm_name,
        address=c.track.address or "",
        port=c.group.monitoring_port,
        **c.envelope,
    )


def _add_member(c: CommandInput) -> Built:
    return subjects.CMD_POOL_ADD, AddPoolMember(
        activity_id=c.activity.id,
        pool=c.group.pool,
        name=c.track.vm_name,
        address=c.track.address or "",
        port=c.group.member_port,
        wait_healthy=c.run.step is Step.ADD_POOL_MEMBER and c.run.phase is Phase.FORWARD,
        timeout_s=c.timeouts.pool_s,
        **c.envelope,
    )


def _remove_member(c: CommandInput) -> Built:
    return subjects.CMD_POOL_REMOVE, RemovePoolMember(
        activity_id=c.activity.id, pool=c.group.pool, name=c.track.vm_name, **c.envelope
    )


def _drain(c: CommandInput) -> Built:
    return subjects.CMD_POOL_DRAIN, DrainPoolMember(
        activity_id=c.activity.id,
        pool=c.group.pool,
        name=c.track.vm_name,
        timeout_s=c.group.drain_timeout_s,
        **c.envelope,
    )


class Runs(StrEnum):
    """Where a step runs."""

    INSTANT = "instant"
    """A database write only, done in the transaction that reaches it."""
    LOCAL = "local"
    """The scaler runs it itself (health probe, hook) on the replica that owns the activity."""
    COMMAND = "command"
    """A command to the service that owns the external system; a reply event ends it."""


Timeout = Callable[[StepTimeouts, ScalingGroup], float]


def _no_timeout(t: StepTimeouts, g: ScalingGroup) -> float:
    return t.hook_s + 30.0


@dataclass(frozen=True)
class StepSpec:
    """Everything about one saga step: where it runs, its command, the replies that end it
    (``failed`` with its ``operation``), how long it may take, and what undoes it."""

    step: Step
    runs: Runs
    timeout: Timeout = _no_timeout
    command: Callable[[CommandInput], Built] | None = None
    replies: tuple[Subject[Any], ...] = ()
    failed: Subject[Any] | None = None
    operation: str = ""
    """The ``operation`` a failure event names for this step (``pool_`` prefix dropped)."""
    gone_is_done: bool = False
    """A missing VM completes the step: its goal (the VM off) already holds."""

    @property
    def compensation(self) -> Step | None:
        """What undoes the step (``domain.saga.COMPENSATIONS``: the saga machine needs it too)."""
        return COMPENSATIONS.get(self.step)


_VM_FAILED, _MON_FAILED, _POOL_FAILED = (
    subjects.VM_OPERATION_FAILED,
    subjects.MONITORING_FAILED,
    subjects.POOL_OPERATION_FAILED,
)


def _vm_s(t: StepTimeouts, g: ScalingGroup) -> float:
    return t.vm_s


def _power_on_s(t: StepTimeouts, g: ScalingGroup) -> float:
    return t.power_on_s


def _monitoring_s(t: StepTimeouts, g: ScalingGroup) -> float:
    return t.monitoring_s


def _pool_s(t: StepTimeouts, g: ScalingGroup) -> float:
    return t.pool_s


def _drain_s(t: StepTimeouts, g: ScalingGroup) -> float:
    return g.drain_timeout_s + t.pool_s


def _health_s(t: StepTimeouts, g: ScalingGroup) -> float:
    return t.health_s + 30.0


_SPECS = (
    StepSpec(Step.RESERVE_IP, Runs.INSTANT),
    StepSpec(Step.CLONE, Runs.COMMAND, _vm_s, _clone, (subjects.VM_CLONED,), _VM_FAILED, "clone"),
    StepSpec(
        Step.POWER_ON,
        Runs.COMMAND,
        _power_on_s,
        _power_on,
        (subjects.VM_IP_ASSIGNED, subjects.VM_POWERED_ON),  # forward: the reserved IP, not power alone
        _VM_FAILED,
        "power_on",
    ),
    StepSpec(Step.WAIT_HEALTHY, Runs.LOCAL, _health_s),
    StepSpec(
        Step.REGISTER_MONITORING,
        Runs.COMMAND,
        _monitoring_s,
        _register,
        (subjects.MONITORING_REGISTERED,),
        _MON_FAILED,
        "register",
    ),
    StepSpec(Step.POST_PROVISION_HOOK, Runs.LOCAL),
    StepSpec(
        Step.ADD_POOL_MEMBER, Runs.COMMAND, _pool_s, _add_member, (subjects.POOL_MEMBER_ADDED,), _POOL_FAILED, "add"
    ),
    StepSpec(Step.IN_SERVICE, Runs.INSTANT),
    StepSpec(Step.PRE_TERMINATION_HOOK, Runs.LOCAL),
    StepSpec(Step.DRAIN, Runs.COMMAND, _drain_s, _drain, (subjects.POOL_MEMBER_DRAINED,), _POOL_FAILED, "drain"),
    StepSpec(Step.UNDRAIN, Runs.COMMAND, _pool_s, _add_member, (subjects.POOL_MEMBER_ADDED,), _POOL_FAILED, "add"),
    StepSpec(
        Step.REMOVE_POOL_MEMBER,
        Runs.COMMAND,
        _pool_s,
        _remove_member,
        (subjects.POOL_MEMBER_REMOVED,),
        _POOL_FAILED,
        "remove",
    ),
    StepSpec(
        Step.DEREGISTER_MONITORING,
        Runs.COMMAND,
        _monitoring_s,
        _deregister,
        (subjects.MONITORING_DEREGISTERED,),
        _MON_FAILED,
        "deregister",
    ),
    StepSpec(
        Step.POWER_OFF,
        Runs.COMMAND,
        _vm_s,
        _power_off,
        (subjects.VM_POWERED_OFF,),
        _VM_FAILED,
        "power_off",
        gone_is_done=True,
    ),
    StepSpec(Step.DESTROY, Runs.COMMAND, _vm_s, _destroy, (subjects.VM_DESTROYED,), _VM_FAILED, "destroy"),
    StepSpec(Step.RELEASE_IP, Runs.INSTANT),
)

STEPS: Mapping[Step, StepSpec] = MappingProxyType({spec.step: spec for spec in _SPECS})
"""The one table of saga steps: one ``StepSpec`` per ``Step``."""

INSTANT_STEPS = frozenset(s for s, spec in STEPS.items() if spec.runs is Runs.INSTANT)
LOCAL_STEPS = frozenset(s for s, spec in STEPS.items() if spec.runs is Runs.LOCAL)
REPLY_SUBJECTS: tuple[Subject[Any], ...] = tuple(
    dict.fromkeys(subject for spec in _SPECS for subject in (*spec.replies, spec.failed) if subject is not None)
)
"""Every event that answers a step's command."""


def command_for(
    activity: Activity,
    track: Track,
    run: StepRun,
    group: ScalingGroup,
    instance: Instance | None,
    pool: IpPool | None,
    timeouts: StepTimeouts,
) -> tuple[Subject[Any], Message]:
    """The command that performs ``run`` (a deterministic id per attempt, for dedupe)."""
    build = STEPS[run.step].command
    if build is None:
        raise ValueError(f"step {run.step} sends no command")
    return build(CommandInput(activity, track, run, group, instance, pool, timeouts))

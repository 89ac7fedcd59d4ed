"""How saga steps map to commands of other services, and their replies back to steps.

One table in each direction: ``command_for`` builds the command a step sends; ``match_reply``
finds which running step an event answers (by causation id first, then by type and VM).
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address
from typing import Any

from services.scaler.domain.model import Instance, IpPool, ScalingGroup
from services.scaler.domain.saga import Activity, Phase, Step, StepRun, Track
from shared import subjects
from shared.messages import (
    AddPoolMember,
    CloneVm,
    DeregisterTarget,
    DestroyVm,
    DrainPoolMember,
    Message,
    MonitoringFailed,
    NetworkSpec,
    PoolMemberAdded,
    PoolMemberDrained,
    PoolMemberRemoved,
    PoolOperationFailed,
    PowerOffVm,
    PowerOnVm,
    RegisterTarget,
    RemovePoolMember,
    TargetDeregistered,
    TargetRegistered,
    VmCloned,
    VmDestroyed,
    VmIpAssigned,
    VmOperationFailed,
    VmPoweredOff,
    VmPoweredOn,
    deterministic_id,
)
from shared.subjects import Subject

__all__ = ["REPLY_SUBJECTS", "Outcome", "StepTimeouts", "command_for", "match_reply"]

REPLY_SUBJECTS: tuple[Subject[Any], ...] = (
    subjects.VM_CLONED,
    subjects.VM_POWERED_ON,
    subjects.VM_IP_ASSIGNED,
    subjects.VM_POWERED_OFF,
    subjects.VM_DESTROYED,
    subjects.VM_OPERATION_FAILED,
    subjects.MONITORING_REGISTERED,
    subjects.MONITORING_DEREGISTERED,
    subjects.MONITORING_FAILED,
    subjects.POOL_MEMBER_ADDED,
    subjects.POOL_MEMBER_DRAINED,
    subjects.POOL_MEMBER_REMOVED,
    subjects.POOL_OPERATION_FAILED,
)
"""Every event that answers a step's command."""


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
        """The timeout of ``step`` in ``group``."""
        if step in (Step.CLONE, Step.POWER_OFF, Step.DESTROY):
            return self.vm_s
        if step is Step.POWER_ON:
            return self.power_on_s
        if step in (Step.REGISTER_MONITORING, Step.DEREGISTER_MONITORING):
            return self.monitoring_s
        if step is Step.DRAIN:
            return group.drain_timeout_s + self.pool_s
        if step in (Step.ADD_POOL_MEMBER, Step.REMOVE_POOL_MEMBER, Step.UNDRAIN):
            return self.pool_s
        if step is Step.WAIT_HEALTHY:
            return self.health_s + 30.0
        return self.hook_s + 30.0


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
    envelope: dict[str, Any] = {
        "message_id": deterministic_id(activity.id, track.vm_name, run.step, run.phase, run.attempts + 1),
        "correlation_id": activity.id,
    }
    vm, aid, address = track.vm_name, activity.id, track.address or ""
    step = run.step
    if step is Step.CLONE:
        if pool is None:
            raise LookupError(f"IP pool {group.ip_pool} is gone")
        network = NetworkSpec(
            ip=IPv4Address(address),
            prefix_length=pool.network.prefixlen,
            gateway=pool.gateway,
            dns_servers=pool.dns,
            network=group.network,
            hostname=vm,
        )
        return subjects.CMD_VM_CLONE, CloneVm(
            activity_id=aid,
            group=group.name,
            vm_name=vm,
            template=group.template,
            network=network,
            placement=group.placement,
            annotation=f"vmscale group={group.name} activity={aid}",
            power_on=False,
            **envelope,
        )
    if step is Step.POWER_ON:
        if run.phase is Phase.FORWARD:
            return subjects.CMD_VM_POWER_ON, PowerOnVm(
                activity_id=aid,
                vm_name=vm,
                expected_ip=IPv4Address(address),
                expected_network=group.network,
                ip_timeout_s=timeouts.power_on_s,
                **envelope,
            )
        return subjects.CMD_VM_POWER_ON, PowerOnVm(activity_id=aid, vm_name=vm, **envelope)
    if step is Step.POWER_OFF:
        return subjects.CMD_VM_POWER_OFF, PowerOffVm(activity_id=aid, vm_name=vm, **envelope)
    if step is Step.DESTROY:
        uuid = instance.instance_uuid if instance is not None else None
        return subjects.CMD_VM_DESTROY, DestroyVm(activity_id=aid, vm_name=vm, expected_uuid=uuid, **envelope)
    if step is Step.REGISTER_MONITORING:
        return subjects.CMD_MONITORING_REGISTER, RegisterTarget(
            activity_id=aid,
            group=group.name,
            job=group.prometheus_job,
            vm_name=vm,
            address=address,
            port=group.monitoring_port,
            labels={"service": group.name, "vmName": vm},
            timeout_s=timeouts.monitoring_s,
            **envelope,
        )
    if step is Step.DEREGISTER_MONITORING:
        return subjects.CMD_MONITORING_DEREGISTER, DeregisterTarget(
            activity_id=aid,
            job=group.prometheus_job,
            vm_name=vm,
            address=address,
            port=group.monitoring_port,
            **envelope,
        )
    if step in (Step.ADD_POOL_MEMBER, Step.UNDRAIN):
        return subjects.CMD_POOL_ADD, AddPoolMember(
            activity_id=aid,
            pool=group.pool,
            name=vm,
            address=address,
            port=group.member_port,
            wait_healthy=step is Step.ADD_POOL_MEMBER and run.phase is Phase.FORWARD,
            timeout_s=timeouts.pool_s,
            **envelope,
        )
    if step is Step.REMOVE_POOL_MEMBER:
        return subjects.CMD_POOL_REMOVE, RemovePoolMember(activity_id=aid, pool=group.pool, name=vm, **envelope)
    if step is Step.DRAIN:
        return subjects.CMD_POOL_DRAIN, DrainPoolMember(
            activity_id=aid, pool=group.pool, name=vm, timeout_s=group.drain_timeout_s, **envelope
        )
    raise ValueError(f"step {step} sends no command")


@dataclass(frozen=True)
class Outcome:
    """What an event says about one running step."""

    vm_name: str
    step: Step
    phase: Phase
    ok: bool
    error: str = ""
    retryable: bool = False


_SUCCESS: dict[type[Message], tuple[Step, ...]] = {
    VmCloned: (Step.CLONE,),
    VmIpAssigned: (Step.POWER_ON,),
    VmPoweredOn: (Step.POWER_ON,),
    VmPoweredOff: (Step.POWER_OFF,),
    VmDestroyed: (Step.DESTROY,),
    TargetRegistered: (Step.REGISTER_MONITORING,),
    TargetDeregistered: (Step.DEREGISTER_MONITORING,),
    PoolMemberAdded: (Step.ADD_POOL_MEMBER, Step.UNDRAIN),
    PoolMemberDrained: (Step.DRAIN,),
    PoolMemberRemoved: (Step.REMOVE_POOL_MEMBER,),
}
_FAILED_OPERATIONS: dict[str, tuple[Step, ...]] = {
    "clone": (Step.CLONE,),
    "power_on": (Step.POWER_ON,),
    "power_off": (Step.POWER_OFF,),
    "destroy": (Step.DESTROY,),
    "register": (Step.REGISTER_MONITORING,),
    "deregister": (Step.DEREGISTER_MONITORING,),
    "add": (Step.ADD_POOL_MEMBER, Step.UNDRAIN),
    "drain": (Step.DRAIN,),
    "remove": (Step.REMOVE_POOL_MEMBER,),
}


def _candidates(event: Message) -> tuple[tuple[Step, ...], bool]:
    if isinstance(event, VmOperationFailed | PoolOperationFailed | MonitoringFailed):
        operation = event.operation.removeprefix("pool_")
        return _FAILED_OPERATIONS.get(operation, ()), False
    return _SUCCESS.get(type(event), ()), True


def match_reply(activity: Activity, event: Message) -> Outcome | None:
    """The running step ``event`` answers, and how; None when it answers none (late, foreign).

    The causation id (the command's message id) decides first; otherwise the event's type (or a
    failure's ``operation``) and VM name pick the step.
    """
    steps, ok = _candidates(event)
    failure = isinstance(event, VmOperationFailed | PoolOperationFailed | MonitoringFailed)
    vm_name = getattr(event, "vm_name", None) or getattr(event, "name", None)
    chosen: tuple[Track, StepRun] | None = None
    running = list(activity.steps_running())
    for track, run in running:
        if event.causation_id and run.command_id == event.causation_id and (failure or run.step in steps):
            chosen = (track, run)
            break
    if chosen is None:
        for track, run in running:
            if run.step not in steps or (vm_name is not None and track.vm_name != vm_name):
                continue
            if isinstance(event, VmPoweredOn) and run.phase is Phase.FORWARD:
                continue  # a forward power-on waits for the reserved IP (VmIpAssigned)
            chosen = (track, run)
            break
    if chosen is None:
        return None
    track, run = chosen
    if isinstance(event, VmPoweredOn) and run.phase is Phase.FORWARD:
        return None
    if isinstance(event, VmIpAssigned) and track.address and event.ip != track.address:
        return Outcome(track.vm_name, run.step, run.phase, False, f"guest IP {event.ip} is not {track.address}")
    if ok:
        return Outcome(track.vm_name, run.step, run.phase, True)
    code, detail = str(getattr(event, "reason", "") or "failed"), getattr(event, "detail", None)
    # The reason code (``insufficient_resources``) first, then the vendor's words: an operator
    # can grep for the first and read the second.
    reason = f"{code}: {detail}" if detail and detail != code else code
    return Outcome(track.vm_name, run.step, run.phase, False, reason, bool(getattr(event, "retryable", False)))

"""Every NATS subject of vmscale, each paired with its message model.

This module is the only place a subject name is written; a test greps the tree for literals.
Four kinds:

* ``COMMAND``  ``cmd.<area>.<verb>``      JetStream stream ``COMMANDS``, durable consumers
* ``EVENT``    ``<area>.<past-participle>`` JetStream stream ``EVENTS``, durable consumers
* ``QUERY``    ``query.<area>.<noun>``    core NATS request/reply
* ``SIGNAL``   core NATS publish, nothing stored (heartbeats)

A deployment (or a test) may run under a prefix: ``Topology.subject`` in ``shared.bus`` turns
``Subject.name`` into the wire subject, so two tests never see each other's messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

from shared import messages as m

__all__ = [
    "ALL",
    "SERVICES",
    "Kind",
    "Subject",
    "by_name",
    "dead_letter",
    "dead_lettered",
    "health_query",
]

M = TypeVar("M", bound=m.Message)

SERVICES: tuple[str, ...] = ("inventory", "monitoring", "scaler", "loadbalancer", "gateway")


class Kind(StrEnum):
    """How a subject travels."""

    COMMAND = "command"
    EVENT = "event"
    QUERY = "query"
    SIGNAL = "signal"


@dataclass(frozen=True)
class Subject(Generic[M]):
    """A subject name and the model of the messages sent on it."""

    name: str
    model: type[M]
    kind: Kind
    reply: type[m.Reply] | None = None

    def __post_init__(self) -> None:
        expected = {Kind.COMMAND: "cmd.", Kind.QUERY: "query."}.get(self.kind)
        if expected and not self.name.startswith(expected):
            raise ValueError(f"{self.kind} subject {self.name!r} must start with {expected!r}")

    @property
    def area(self) -> str:
        """The first token of an event or signal subject, the second of a command or query."""
        tokens = self.name.split(".")
        return tokens[1] if self.kind in (Kind.COMMAND, Kind.QUERY) else tokens[0]


def _cmd(name: str, model: type[M]) -> Subject[M]:
    return Subject(name, model, Kind.COMMAND)


def _evt(name: str, model: type[M]) -> Subject[M]:
    return Subject(name, model, Kind.EVENT)


# Alerts (gateway → scaler)
ALERT_FIRED = _evt("alert.fired", m.AlertFired)
ALERT_RESOLVED = _evt("alert.resolved", m.AlertResolved)
QUERY_SCALER_GROUP_STATUS = Subject(
    "query.scaler.group_status", m.GroupStatusQuery, Kind.QUERY, reply=m.GroupStatusReply
)


# Scaler queries and operator requests (gateway → scaler, core request/reply; see
# shared/messages/scaling.py for why changes travel as request/reply)
def _scaler(noun: str, model: type[M], reply: type[m.Reply]) -> Subject[M]:
    return Subject(f"query.scaler.{noun}", model, Kind.QUERY, reply=reply)


QUERY_SCALER_GROUPS = _scaler("groups", m.ListGroups, m.GroupsReply)
QUERY_SCALER_GROUP = _scaler("group", m.GetGroup, m.GroupReply)
QUERY_SCALER_ACTIVITIES = _scaler("activities", m.ListActivities, m.ActivitiesReply)
QUERY_SCALER_ACTIVITY = _scaler("activity", m.GetActivity, m.ActivityReply)
QUERY_SCALER_DECISIONS = _scaler("decisions", m.ListDecisions, m.DecisionsReply)
QUERY_SCALER_INSTANCES = _scaler("instances", m.ListInstances, m.InstancesReply)
QUERY_SCALER_IP_POOLS = _scaler("ip_pools", m.ListIpPools, m.IpPoolsReply)
QUERY_SCALER_SAVE_GROUP = _scaler("save_group", m.SaveGroup, m.GroupReply)
QUERY_SCALER_DELETE_GROUP = _scaler("delete_group", m.DeleteGroup, m.OperationReply)
QUERY_SCALER_SET_ENABLED = _scaler("set_enabled", m.SetGroupEnabled, m.GroupReply)
QUERY_SCALER_SCALE = _scaler("scale", m.ManualScale, m.ScaleReply)
QUERY_SCALER_DETACH = _scaler("detach", m.DetachInstance, m.InstanceReply)
QUERY_SCALER_VALIDATE = _scaler("validate", m.ValidateGroup, m.ValidationReply)
QUERY_SCALER_DRY_RUN = _scaler("dry_run", m.DryRunGroup, m.DryRunReply)
QUERY_SCALER_SUSPEND = _scaler("suspend", m.SetSuspendedProcesses, m.GroupReply)
QUERY_SCALER_PROTECT = _scaler("protect", m.ProtectInstance, m.InstanceReply)
QUERY_SCALER_CANCEL = _scaler("cancel", m.CancelActivity, m.ActivityReply)
QUERY_SCALER_SAVE_IP_POOL = _scaler("save_ip_pool", m.SaveIpPool, m.IpPoolReply)
QUERY_SCALER_DELETE_IP_POOL = _scaler("delete_ip_pool", m.DeleteIpPool, m.OperationReply)
# the original's Jenkins callbacks (vm-created / vm-deleted), see shared/messages/callbacks.py
QUERY_SCALER_ADOPT = _scaler("adopt", m.AdoptInstance, m.InstanceCallbackReply)
QUERY_SCALER_MARK_GONE = _scaler("mark_gone", m.MarkInstanceGone, m.InstanceCallbackReply)

# VMs and templates (scaler / gateway → inventory → scaler)
CMD_VM_CLONE = _cmd("cmd.vm.clone", m.CloneVm)
CMD_VM_POWER_ON = _cmd("cmd.vm.power_on", m.PowerOnVm)
CMD_VM_POWER_OFF = _cmd("cmd.vm.power_off", m.PowerOffVm)
CMD_VM_DESTROY = _cmd("cmd.vm.destroy", m.DestroyVm)
CMD_TEMPLATE_CREATE = _cmd("cmd.template.create", m.MakeTemplate)
VM_CLONED = _evt("vm.cloned", m.VmCloned)
VM_POWERED_ON = _evt("vm.powered_on", m.VmPoweredOn)
VM_POWERED_OFF = _evt("vm.powered_off", m.VmPoweredOff)
VM_DESTROYED = _evt("vm.destroyed", m.VmDestroyed)
VM_OPERATION_FAILED = _evt("vm.operation_failed", m.VmOperationFailed)
TEMPLATE_CREATED = _evt("template.created", m.TemplateCreated)
CMD_TEMPLATE_DELETE = _cmd("cmd.template.delete", m.DeleteTemplate)
TEMPLATE_DELETED = _evt("template.deleted", m.TemplateDeleted)
VM_IP_ASSIGNED = _evt("vm.ip_assigned", m.VmIpAssigned)
VM_PROGRESS = _evt("vm.progress", m.VmProgress)

# Inventory queries (gateway / scaler / lab → inventory), served from its cache
QUERY_INVENTORY_VMS = Subject("query.inventory.vms", m.VmsQuery, Kind.QUERY, reply=m.VmsReply)
QUERY_INVENTORY_VM = Subject("query.inventory.vm", m.VmQuery, Kind.QUERY, reply=m.VmReply)
QUERY_INVENTORY_TEMPLATES = Subject("query.inventory.templates", m.TemplatesQuery, Kind.QUERY, reply=m.TemplatesReply)
QUERY_INVENTORY_NETWORKS = Subject("query.inventory.networks", m.NetworksQuery, Kind.QUERY, reply=m.NetworksReply)
QUERY_INVENTORY_DATASTORES = Subject(
    "query.inventory.datastores", m.DatastoresQuery, Kind.QUERY, reply=m.DatastoresReply
)
QUERY_INVENTORY_COMPUTE = Subject("query.inventory.compute", m.ComputeQuery, Kind.QUERY, reply=m.ComputeReply)
QUERY_INVENTORY_FOLDERS = Subject("query.inventory.folders", m.FoldersQuery, Kind.QUERY, reply=m.FoldersReply)
QUERY_INVENTORY_STATUS = Subject(
    "query.inventory.status", m.InventoryStatusQuery, Kind.QUERY, reply=m.InventoryStatusReply
)

# Monitoring (scaler → monitoring → scaler)
CMD_MONITORING_REGISTER = _cmd("cmd.monitoring.register", m.RegisterTarget)
CMD_MONITORING_DEREGISTER = _cmd("cmd.monitoring.deregister", m.DeregisterTarget)
CMD_MONITORING_PROVISION_ALERTS = _cmd("cmd.monitoring.provision_alerts", m.ProvisionGroupAlerts)
CMD_MONITORING_REMOVE_ALERTS = _cmd("cmd.monitoring.remove_alerts", m.RemoveGroupAlerts)
CMD_MONITORING_SILENCE = _cmd("cmd.monitoring.silence", m.SetScaleInSilence)
MONITORING_REGISTERED = _evt("monitoring.registered", m.TargetRegistered)
MONITORING_DEREGISTERED = _evt("monitoring.deregistered", m.TargetDeregistered)
MONITORING_ALERTS_PROVISIONED = _evt("monitoring.alerts_provisioned", m.GroupAlertsProvisioned)
MONITORING_ALERTS_REMOVED = _evt("monitoring.alerts_removed", m.GroupAlertsRemoved)
MONITORING_FAILED = _evt("monitoring.failed", m.MonitoringFailed)
MONITORING_SILENCE_SET = _evt("monitoring.silence_set", m.ScaleInSilenceSet)
CMD_MONITORING_DELETE_JOB = _cmd("cmd.monitoring.delete_job", m.DeleteJob)
MONITORING_JOB_DELETED = _evt("monitoring.job_deleted", m.JobDeleted)
CMD_MONITORING_INSTALL_AGENTS = _cmd("cmd.monitoring.install_agents", m.InstallAgents)
MONITORING_AGENT_PROGRESS = _evt("monitoring.agent_progress", m.AgentProgress)
MONITORING_AGENTS_INSTALLED = _evt("monitoring.agents_installed", m.AgentsInstalled)
CMD_MONITORING_REGISTER_JMX = _cmd("cmd.monitoring.register_jmx", m.RegisterJmxExporter)
MONITORING_JMX_REGISTERED = _evt("monitoring.jmx_registered", m.JmxExporterRegistered)
QUERY_MONITORING_JOBS = Subject("query.monitoring.jobs", m.MonitoringJobsQuery, Kind.QUERY, reply=m.MonitoringJobsReply)
QUERY_MONITORING_TARGETS = Subject(
    "query.monitoring.targets", m.MonitoringTargetsQuery, Kind.QUERY, reply=m.MonitoringTargetsReply
)
QUERY_MONITORING_RULES = Subject(
    "query.monitoring.rules", m.MonitoringRulesQuery, Kind.QUERY, reply=m.MonitoringRulesReply
)
QUERY_MONITORING_ROUTES = Subject(
    "query.monitoring.routes", m.MonitoringRoutesQuery, Kind.QUERY, reply=m.MonitoringRoutesReply
)
QUERY_MONITORING_SILENCES = Subject(
    "query.monitoring.silences", m.MonitoringSilencesQuery, Kind.QUERY, reply=m.MonitoringSilencesReply
)
QUERY_MONITORING_ALERTS = Subject(
    "query.monitoring.alerts", m.MonitoringAlertsQuery, Kind.QUERY, reply=m.MonitoringAlertsReply
)
QUERY_MONITORING_INSTANCE_METRICS = Subject(
    "query.monitoring.instance_metrics", m.InstanceMetricsQuery, Kind.QUERY, reply=m.InstanceMetricsReply
)

# Load balancer pools (scaler → loadbalancer → scaler, other teams)
CMD_POOL_ADD = _cmd("cmd.pool.add", m.AddPoolMember)
CMD_POOL_DRAIN = _cmd("cmd.pool.drain", m.DrainPoolMember)
CMD_POOL_REMOVE = _cmd("cmd.pool.remove", m.RemovePoolMember)
POOL_MEMBER_ADDED = _evt("pool.member_added", m.PoolMemberAdded)
POOL_MEMBER_DRAINED = _evt("pool.member_drained", m.PoolMemberDrained)
POOL_MEMBER_REMOVED = _evt("pool.member_removed", m.PoolMemberRemoved)
POOL_UPDATED = _evt("pool.updated", m.PoolUpdated)
POOL_OPERATION_FAILED = _evt("pool.operation_failed", m.PoolOperationFailed)
CMD_POOL_CANCEL_DRAIN = _cmd("cmd.pool.cancel_drain", m.CancelDrain)
POOL_DRAIN_CANCELLED = _evt("pool.drain_cancelled", m.DrainCancelled)
POOL_DRIFT_DETECTED = _evt("pool.drift_detected", m.PoolDriftDetected)
QUERY_POOL_POOLS = Subject("query.pool.pools", m.ListPools, Kind.QUERY, reply=m.PoolsReply)
QUERY_POOL_VIRTUAL_SERVERS = Subject(
    "query.pool.virtual_servers", m.ListVirtualServers, Kind.QUERY, reply=m.VirtualServersReply
)
QUERY_POOL_MEMBERS = Subject("query.pool.members", m.ListPoolMembers, Kind.QUERY, reply=m.PoolMembersReply)

# Activity lifecycle, decisions, audit (scaler / gateway → anyone)
ACTIVITY_STARTED = _evt("activity.started", m.ActivityStarted)
ACTIVITY_STEP_COMPLETED = _evt("activity.step_completed", m.ActivityStepCompleted)
ACTIVITY_SUCCEEDED = _evt("activity.succeeded", m.ActivitySucceeded)
ACTIVITY_ROLLED_BACK = _evt("activity.rolled_back", m.ActivityRolledBack)
DECISION_RECORDED = _evt("decision.recorded", m.DecisionRecorded)
GROUP_DRIFT_DETECTED = _evt("decision.drift_detected", m.GroupDriftDetected)
ORPHAN_VMS_DETECTED = _evt("decision.orphans_detected", m.OrphanVmsDetected)
AUDIT_RECORDED = _evt("audit.recorded", m.AuditRecorded)

# Service health
HEARTBEAT = Subject("service.heartbeat", m.ServiceHeartbeat, Kind.SIGNAL)
LOG_LEVEL_SET = Subject("service.log_level_set", m.LogLevelSet, Kind.SIGNAL)


def health_query(service: str) -> Subject[m.HealthQuery]:
    """The ``query.<service>.health`` subject of one service."""
    if service not in SERVICES:
        raise ValueError(f"unknown service {service!r}")
    return Subject(f"query.{service}.health", m.HealthQuery, Kind.QUERY, reply=m.HealthReply)


HEALTH_QUERIES = {service: health_query(service) for service in SERVICES}


def dead_letter(subject: Subject[M] | str) -> Subject[m.DeadLetter]:
    """The dead-letter subject for messages on ``subject`` (``dlq.<name>``)."""
    name = subject if isinstance(subject, str) else subject.name
    return Subject(f"dlq.{name}", m.DeadLetter, Kind.EVENT)


DEAD_LETTERS = Subject("dlq.>", m.DeadLetter, Kind.EVENT)
"""Wildcard over every dead-letter subject (for the DLQ stream and operators' tooling)."""


def dead_lettered(name: str) -> str:
    """The original subject of a dead-letter subject name (``dlq.cmd.vm.clone`` → ``cmd.vm.clone``);
    a name that is not a dead-letter subject is returned as it is."""
    head = DEAD_LETTERS.name.removesuffix(">")
    return name.removeprefix(head)


COMMAND_STREAM_SUBJECTS = ("cmd.>",)
EVENT_STREAM_SUBJECTS = (
    "alert.>",
    "vm.>",
    "template.>",
    "monitoring.>",
    "pool.>",
    "activity.>",
    "decision.>",
    "audit.>",
)
DEAD_LETTER_STREAM_SUBJECTS = ("dlq.>",)

ALL: tuple[Subject[m.Message], ...] = tuple(
    value for value in globals().values() if isinstance(value, Subject) and value is not DEAD_LETTERS
) + tuple(HEALTH_QUERIES.values())


def by_name(name: str) -> Subject[m.Message]:
    """Look a subject up by its (unprefixed) name."""
    for subject in ALL:
        if subject.name == name:
            return subject
    raise KeyError(name)

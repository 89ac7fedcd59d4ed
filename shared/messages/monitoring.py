"""Commands to the monitoring service (Prometheus, Alertmanager, Grafana, agents over SSH)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.messages.base import Command, Event, Query, Reply
from shared.vocabulary import AlertRuleSpec

__all__ = [
    "JOB_PATTERN",
    "AgentHost",
    "AgentProgress",
    "AgentsInstalled",
    "AlertRuleSpec",
    "DashboardLink",
    "DeleteJob",
    "DeregisterTarget",
    "GroupAlertsProvisioned",
    "GroupAlertsRemoved",
    "InstallAgents",
    "InstanceMetricsQuery",
    "InstanceMetricsReply",
    "InstanceSeries",
    "JmxExporterRegistered",
    "JobDeleted",
    "MonitoringAlertsQuery",
    "MonitoringAlertsReply",
    "MonitoringFailed",
    "MonitoringJobsQuery",
    "MonitoringJobsReply",
    "MonitoringRoutesQuery",
    "MonitoringRoutesReply",
    "MonitoringRulesQuery",
    "MonitoringRulesReply",
    "MonitoringSilencesQuery",
    "MonitoringSilencesReply",
    "MonitoringTargetsQuery",
    "MonitoringTargetsReply",
    "ProvisionGroupAlerts",
    "RegisterJmxExporter",
    "RegisterTarget",
    "RemoveGroupAlerts",
    "ScaleInSilenceSet",
    "SetScaleInSilence",
    "TargetDeregistered",
    "TargetHealthInfo",
    "TargetRegistered",
]

# Prometheus job names: a label value vmscale also uses in file and dashboard names.
JOB_PATTERN = r"^[a-zA-Z_][a-zA-Z0-9_:-]*$"


class RegisterTarget(Command):
    """Add ``address:port`` to the Prometheus job ``job`` (file_sd); idempotent by target.

    With ``wait_up`` the reply comes once Prometheus reports the target up.
    """

    activity_id: str | None = None
    group: str | None = None
    job: str = Field(min_length=1, pattern=JOB_PATTERN)
    vm_name: str
    address: str
    port: int = Field(default=9100, ge=1, le=65535)
    labels: dict[str, str] = Field(default_factory=dict)
    wait_up: bool = True
    timeout_s: float = Field(default=120.0, gt=0)
    install_exporter: bool = False
    """Install (or verify) Node Exporter on the VM over SSH before registering it."""


class TargetRegistered(Event):
    """The target is in the job (and up, when the command asked to wait)."""

    activity_id: str | None = None
    job: str
    vm_name: str
    target: str
    up: bool


class DeregisterTarget(Command):
    """Remove a VM's target from a job; a missing target is success."""

    activity_id: str | None = None
    job: str
    vm_name: str
    address: str
    port: int = 9100


class TargetDeregistered(Event):
    """The target is gone from the job."""

    activity_id: str | None = None
    job: str
    vm_name: str
    target: str


class ProvisionGroupAlerts(Command):
    """Write the group's alert rules and Alertmanager route to the gateway webhook; idempotent."""

    group: str
    rules: AlertRuleSpec
    webhook_url: str
    repeat_interval_s: int = 300
    config_id: str | None = None
    """The ``autoscaleConfigId`` label of the rules; the group name when left out."""


class GroupAlertsProvisioned(Event):
    """Rules and route are live (Prometheus and Alertmanager reloaded)."""

    group: str
    rule_names: tuple[str, ...]


class RemoveGroupAlerts(Command):
    """Delete the group's rules and route; idempotent."""

    group: str


class GroupAlertsRemoved(Event):
    """Rules and route are gone."""

    group: str


class SetScaleInSilence(Command):
    """Silence (``active``) or unsilence the group's scale-in alert, e.g. at min size."""

    group: str
    active: bool
    reason: str = ""


class MonitoringFailed(Event):
    """A monitoring command failed."""

    activity_id: str | None = None
    operation: str
    reason: str
    error_kind: str
    retryable: bool = False


class ScaleInSilenceSet(Event):
    """The group's scale-in silence is in place (``silence_id``) or gone."""

    group: str
    active: bool
    silence_id: str | None = None


class DeleteJob(Command):
    """Delete a Prometheus job with its targets and dashboards; a missing job is success."""

    job: str


class JobDeleted(Event):
    """The job is gone."""

    job: str
    existed: bool


class AgentHost(BaseModel):
    """One VM to install an agent on."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    vm_name: str
    address: str
    port: int | None = Field(default=None, ge=1, le=65535)


class InstallAgents(Command):
    """Install (or uninstall) one agent on many VMs over SSH, with bounded concurrency."""

    tool: Literal["node_exporter", "promtail", "jmx_exporter"] = "node_exporter"
    action: Literal["install", "uninstall", "status"] = "install"
    hosts: tuple[AgentHost, ...] = ()


class AgentProgress(Event):
    """One host of a batch is done (``ok``) or failed (``error_kind`` classifies why)."""

    batch_id: str
    vm_name: str
    address: str
    tool: str
    action: str
    ok: bool
    changed: bool = False
    status: dict[str, Any] = Field(default_factory=dict)
    error_kind: str | None = None
    reason: str = ""


class AgentsInstalled(Event):
    """Every host of a batch has reported."""

    batch_id: str
    tool: str
    action: str
    succeeded: tuple[str, ...] = ()
    failed: tuple[str, ...] = ()


class TargetHealthInfo(BaseModel):
    """A target as Prometheus sees it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    job: str
    target: str
    instance: str
    vm_name: str | None = None
    health: str
    last_error: str = ""
    last_scrape: str | None = None


class MonitoringJobsQuery(Query):
    """vmscale's Prometheus jobs."""


class DashboardLink(BaseModel):
    """A Grafana dashboard of a job, as Grafana lists it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["infrastructure", "jvm"]
    title: str
    url: str


class MonitoringJobsReply(Reply):
    """Job name → number of targets (system jobs excluded), and each job's dashboards in Grafana.

    ``dashboards_error`` says why there are no links when Grafana could not be asked; the jobs
    are answered all the same.
    """

    jobs: dict[str, int] = Field(default_factory=dict)
    dashboards: dict[str, tuple[DashboardLink, ...]] = Field(default_factory=dict)
    dashboards_error: str | None = None


class MonitoringTargetsQuery(Query):
    """The targets of one job, with their health."""

    job: str


class MonitoringTargetsReply(Reply):
    """Targets with health."""

    targets: tuple[TargetHealthInfo, ...] = ()


class MonitoringRulesQuery(Query):
    """The ``*-autoscale`` rule groups Prometheus has loaded."""


class MonitoringRulesReply(Reply):
    """Rule groups as ``/api/v1/rules`` returns them."""

    groups: tuple[dict[str, Any], ...] = ()


class MonitoringRoutesQuery(Query):
    """vmscale's Alertmanager routes."""


class MonitoringRoutesReply(Reply):
    """Each route: group, receiver, direction, matchers, url."""

    routes: tuple[dict[str, Any], ...] = ()


class MonitoringSilencesQuery(Query):
    """vmscale's active or pending silences."""


class MonitoringSilencesReply(Reply):
    """Silences as Alertmanager's API v2 returns them."""

    silences: tuple[dict[str, Any], ...] = ()


class MonitoringAlertsQuery(Query):
    """Alertmanager's alerts of vmscale's groups."""


class MonitoringAlertsReply(Reply):
    """Alerts as Alertmanager's API v2 returns them."""

    alerts: tuple[dict[str, Any], ...] = ()


class RegisterJmxExporter(Command):
    """Register a Java service's JMX exporter as a target of its own Prometheus job ``job``
    (e.g. ``<service>-jmx``), with the original's JVM dashboard; idempotent by target.

    With ``install_exporter`` the exporter is first installed (or verified) on the VM over SSH,
    serving on ``port`` and reading the service's remote JMX on ``jmx_port`` (the settings'
    defaults when left out). Deregister with ``cmd.monitoring.deregister`` and the same port.
    """

    activity_id: str | None = None
    group: str | None = None
    job: str = Field(min_length=1, pattern=JOB_PATTERN)
    vm_name: str
    address: str
    port: int | None = Field(default=None, ge=1, le=65535)
    jmx_port: int | None = Field(default=None, ge=1, le=65535)
    labels: dict[str, str] = Field(default_factory=dict)
    wait_up: bool = True
    timeout_s: float = Field(default=120.0, gt=0)
    install_exporter: bool = False


class JmxExporterRegistered(Event):
    """The JMX exporter target is in its job (and up, when asked to wait); ``dashboard_uid``
    names the job's JVM dashboard when Grafana is configured."""

    activity_id: str | None = None
    job: str
    vm_name: str
    target: str
    up: bool
    dashboard_uid: str | None = None


class InstanceSeries(BaseModel):
    """One instance's CPU and memory use (percent) over time: ``(unix seconds, value)`` pairs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    instance: str
    cpu: tuple[tuple[float, float], ...] = ()
    memory: tuple[tuple[float, float], ...] = ()


class InstanceMetricsQuery(Query):
    """Per-instance CPU and memory of a job from Prometheus, for the dashboard's charts."""

    job: str = Field(min_length=1, pattern=JOB_PATTERN)
    minutes: int = Field(default=15, ge=1, le=10080)
    """Up to 7 days; the gateway picks ``step_s`` so a range stays within a few hundred points."""
    step_s: int = Field(default=15, ge=1, le=3600)


class InstanceMetricsReply(Reply):
    """Answer to ``InstanceMetricsQuery`` (the same expressions as the alert rules)."""

    series: tuple[InstanceSeries, ...] = ()

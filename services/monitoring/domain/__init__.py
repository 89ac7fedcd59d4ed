"""Pure rendering and naming rules of the monitoring service (no IO)."""

from services.monitoring.domain.dashboards import infrastructure_dashboard, jvm_dashboard
from services.monitoring.domain.names import (
    SYSTEM_JOBS,
    alert_names,
    check_group,
    check_job,
    dashboard_uid,
    jvm_dashboard_uid,
    receiver_name,
    rule_group_name,
)
from services.monitoring.domain.routes import (
    RouteOptions,
    apply_group_routes,
    managed_routes,
    remove_group_routes,
    webhook_url,
)
from services.monitoring.domain.rules import RuleOptions, render_rules, rule_file_name
from services.monitoring.domain.targets import ALLOWED_LABELS, Target, parse_job_file, render_job_file, target_groups

__all__ = [
    "ALLOWED_LABELS",
    "SYSTEM_JOBS",
    "RouteOptions",
    "RuleOptions",
    "Target",
    "alert_names",
    "apply_group_routes",
    "check_group",
    "check_job",
    "dashboard_uid",
    "infrastructure_dashboard",
    "jvm_dashboard",
    "jvm_dashboard_uid",
    "managed_routes",
    "parse_job_file",
    "receiver_name",
    "remove_group_routes",
    "render_job_file",
    "render_rules",
    "rule_file_name",
    "rule_group_name",
    "target_groups",
    "webhook_url",
]

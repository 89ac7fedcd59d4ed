"""The plan of ``vmscale import``: each original config as a group, an IP pool and instances (pure).

Nothing is skipped: every config the original's validation accepts (docs/original-system.md §5.1)
becomes a group. What vmscale cannot take as it is is mapped to something valid and the group
is planned *disabled* with the reason (a template gone from ``templates.json``, a service name
that cannot be a group name, thresholds that would flap, no IP range…); the operator fixes it
and enables. The original's autoscaled VMs (names ending in ``-`` and 12 digits) become
autoscaled instances dated by that timestamp, so vmscale scales them in newest first, as the
original did; every other VM of the job is a protected base instance.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from services.scaler.domain.model import GROUP_NAME_PATTERN, IpPool, ScalingGroup, Thresholds, flapping_problems
from services.scaler.import_files import OriginalData
from services.scaler.import_members import PlannedInstance, planned_instances, planned_pool
from shared.messages import JOB_PATTERN

__all__ = ["GroupPlan", "ImportPlan", "PlannedInstance", "derived_name", "plan_import"]

_PREFIX_SUFFIXES = re.compile(r"-(service|job|app|api|web)$")


@dataclass
class GroupPlan:
    """One original config as vmscale will hold it."""

    service: str
    config_id: str
    spec: ScalingGroup
    pool: IpPool
    instances: list[PlannedInstance] = field(default_factory=list)
    enable: bool = False
    disabled_reasons: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    routes: list[str] = field(default_factory=list)
    """The original's Alertmanager receivers of this service and what enabling makes of them."""
    last_scale_out_at: datetime | None = None
    last_scale_in_at: datetime | None = None


@dataclass
class ImportPlan:
    """Every group, and whatever could not be mapped (with why)."""

    groups: list[GroupPlan] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:6]


def derived_name(base: str, suffix: str = "", limit: int = 63) -> str:
    """A lower-case ``[a-z0-9-]`` name of at most ``limit`` characters from ``base`` + ``suffix``.

    Too long, the base is cut and a short hash of the whole base keeps it unique; empty, it is
    ``g`` plus that hash.
    """
    slug = re.sub(r"-+", "-", re.sub(r"[^a-z0-9-]", "-", base.lower())).strip("-")
    if not slug:
        slug = f"g{_hash(base)}"
    if len(slug) + len(suffix) > limit:
        slug = slug[: limit - len(suffix) - 7].rstrip("-") + "-" + _hash(base)
    return slug + suffix


def _group_name(raw: str, taken: set[str], reasons: list[str]) -> str:
    name = raw
    if not re.fullmatch(GROUP_NAME_PATTERN, raw):
        name = re.sub(r"[^A-Za-z0-9_-]+", "-", raw).strip("-_") or f"service-{_hash(raw)}"
        if len(name) > 63:
            name = name[:56].rstrip("-_") + "-" + _hash(raw)
        reasons.append(
            f"service name {raw!r} cannot be a group name (letters, digits, - and _, at most 63): imported as "
            f"{name}; its webhook path and alert names change with it"
        )
    if name.lower() in taken:
        first = name
        name = derived_name(name, f"-{_hash(raw + str(len(taken)))}") if len(name) > 55 else f"{name}-{len(taken) + 1}"
        reasons.append(f"another service is already named {first!r} (names are unique regardless of case)")
    taken.add(name.lower())
    return name


def _number(value: Any, default: float, what: str, notes: list[str]) -> float:
    if value is None or value == "":
        return default
    try:
        return float(value)
    except (TypeError, ValueError):
        notes.append(f"{what} {value!r} is not a number; {default:g} used")
        return default


def _template(config: dict[str, Any], data: OriginalData, vcenter: set[str] | None, reasons: list[str]) -> str:
    template_id = str(config.get("templateId") or "").strip()
    name = data.templates.get(template_id, "")
    if name:
        return name
    from_id = re.fullmatch(r"vcenter-[0-9a-f]{8}-(.+)", template_id)
    guess = from_id.group(1).strip() if from_id else ""
    match = next((t for t in sorted(vcenter or ()) if guess and t.lower() == guess.lower()), None)
    problem = f"template {template_id!r} is gone from templates.json"
    if match:
        reasons.append(f"{problem}; vCenter has a template named {match!r}: check it, then enable")
        return match
    reasons.append(f"{problem}; choose the group's template, then enable")
    candidate = guess or template_id or "unknown-template"
    return candidate[:80].strip() or "unknown-template"


def _thresholds(monitoring: dict[str, Any], notes: list[str]) -> dict[str, Any]:
    return {
        "cpu_high": _number(monitoring.get("cpuThreshold"), 80, "cpuThreshold", notes),
        "memory_high": _number(monitoring.get("memoryThreshold"), 80, "memoryThreshold", notes),
        "out_for_s": int(_number(monitoring.get("duration"), 5, "duration", notes) * 60),
        "cpu_low": _number(monitoring.get("scaleInCpuThreshold"), 30, "scaleInCpuThreshold", notes),
        "memory_low": _number(monitoring.get("scaleInMemoryThreshold"), 30, "scaleInMemoryThreshold", notes),
        "in_for_s": int(_number(monitoring.get("scaleInDuration"), 10, "scaleInDuration", notes) * 60),
    }


def _epoch(value: Any) -> datetime | None:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    if seconds > 1e11:  # milliseconds
        seconds /= 1000
    return datetime.fromtimestamp(seconds, UTC) if seconds > 0 else None


def _rule_differences(alert: str, data: OriginalData, expected: tuple[float, float, int]) -> list[str]:
    """What the original's rule says against what vmscale renders from the config.

    The original did not re-render its rules when a config was updated (§4), so the file may
    disagree with the config; vmscale renders the config's values when the group is enabled.
    """
    expr, duration = data.rules.get(alert, ("", ""))
    found = [float(n) for n in re.findall(r"[<>]=?\s*([0-9]+(?:\.[0-9]+)?)", expr)]
    cpu, memory, for_s = expected
    out = []
    if len(found) >= 2 and (found[0], found[1]) != (cpu, memory):
        out.append(
            f"thresholds {found[0]:g}/{found[1]:g} (CPU/memory) in alert_rules.yml, {cpu:g}/{memory:g} in the config"
        )
    minutes = re.fullmatch(r"(\d+)m", duration.strip())
    if minutes and int(minutes.group(1)) * 60 != for_s:
        out.append(f"for {duration} in alert_rules.yml, {for_s // 60}m in the config")
    return [f"rule {alert}: " + "; ".join(out) + "; vmscale renders the config's"] if out else []


def _routes(
    service: str, name: str, data: OriginalData, webhook_base: str, notes: list[str], spec: ScalingGroup
) -> list[str]:
    """The original's receivers and rules for ``service`` against what vmscale renders."""
    t = spec.thresholds
    expected = {
        "HighResourceUsage": (t.cpu_high, t.memory_high, t.out_for_s),
        "LowResourceUsage": (t.cpu_low, t.memory_low, t.in_for_s),
    }
    routes = []
    target = f"{webhook_base.rstrip('/')}/api/webhook/autoscale/{name}"
    for direction, kind in (("out", "HighResourceUsage"), ("in", "LowResourceUsage")):
        receiver = f"jenkins-webhook-{service}-{direction}"
        if receiver in data.receivers:
            urls = ", ".join(data.receivers[receiver]) or "no URL"
            auth = "" if receiver in data.receivers_with_auth else " without credentials"
            routes.append(
                f"{receiver}: {urls}{auth} -> {target} with the webhook token (credentials_file), "
                "rewritten when the group is enabled"
            )
        alert = f"{service}_{kind}"
        if data.alert_names and alert not in data.alert_names:
            notes.append(f"alert_rules.yml has no rule {alert}; vmscale renders it when the group is enabled")
        elif alert in data.alert_names and name != service:
            notes.append(f"rule {alert} becomes {name}_{kind}")
        notes.extend(_rule_differences(alert, data, expected[kind]))
    return routes


def _section(config: dict[str, Any], key: str) -> dict[str, Any]:
    value = config.get(key)
    return value if isinstance(value, dict) else {}


def _plan_one(
    config: dict[str, Any],
    data: OriginalData,
    taken: set[str],
    vcenter: set[str] | None,
    discovered: Mapping[str, list[tuple[str | None, str]]],
    enable_all: bool,
    webhook_base: str,
) -> GroupPlan:
    reasons: list[str] = []
    notes: list[str] = []
    service = str(config.get("serviceName") or "").strip() or f"config-{config.get('id') or ''!s}"
    name = _group_name(service, taken, reasons)
    monitoring, scaling, f5 = _section(config, "monitoring"), _section(config, "scaling"), _section(config, "f5")
    network, vcenter_cfg = _section(config, "network"), _section(config, "vcenter")

    raw_prefix = str(config.get("vmPrefix") or "").strip()
    prefix = derived_name(raw_prefix or _PREFIX_SUFFIXES.sub("", service.lower()), limit=40).replace("template", "tpl")
    if prefix != raw_prefix:
        notes.append(f"VM prefix {raw_prefix!r} becomes {prefix!r} (lower case, no 'template', at most 40)")

    job = str(monitoring.get("prometheusJobName") or "").strip()
    if not re.fullmatch(JOB_PATTERN, job):
        fixed = re.sub(r"[^a-zA-Z0-9_:-]", "_", job or name)
        fixed = fixed if re.match(r"[a-zA-Z_]", fixed) else f"_{fixed}"
        reasons.append(f"Prometheus job {job!r} is not a valid job name: {fixed!r} set; check it")
        job = fixed
    instances = planned_instances(job, data, discovered, notes)

    thresholds = _thresholds(monitoring, notes)
    try:
        Thresholds.model_validate(thresholds)
    except ValidationError as exc:
        reasons.append(f"thresholds refused ({exc.errors()[0]['msg']}); vmscale's defaults set")
        thresholds = Thresholds().model_dump()
    min_size = max(1, int(_number(scaling.get("minVms"), 1, "minVms", notes)))
    max_size = max(1, int(_number(scaling.get("maxVms"), 10, "maxVms", notes)))
    if scaling.get("minVms") in (None, "") or scaling.get("maxVms") in (None, ""):
        notes.append(f"minVms/maxVms not set: {min_size}/{max_size} (the original's webhook defaults)")
    if min_size > max_size:
        reasons.append(f"minVms {min_size} exceeds maxVms {max_size}: maxVms raised to {min_size}")
        max_size = min_size
    cooldown = max(0, int(_number(scaling.get("cooldownPeriod"), 300, "cooldownPeriod", notes)))
    pool_name = re.sub(r"\s+", "-", str(f5.get("poolName") or "").strip())
    vip = str(f5.get("vip") or "").strip()
    if not pool_name or not vip:
        reasons.append("f5.poolName or f5.vip is missing")
    vip_port = int(_number(f5.get("vipPort"), 80, "f5.vipPort", notes))
    if not 1 <= vip_port <= 65535:
        reasons.append(f"f5.vipPort {vip_port} is not a port: 80 set")
        vip_port = 80
    health = re.sub(r"\s", "", str(f5.get("healthCheckPath") or "/"))
    ip_pool = planned_pool(derived_name(name, "-ips"), network, instances, reasons, notes)
    spec: dict[str, Any] = {
        "name": name,
        "vm_prefix": prefix or "vm",
        "template": _template(config, data, vcenter, reasons),
        "prometheus_job": job,
        "thresholds": thresholds,
        "min_size": min_size,
        "max_size": max_size,
        "scale_out_step": max(1, int(_number(scaling.get("scaleOutStep"), 1, "scaleOutStep", notes))),
        "scale_in_step": max(1, int(_number(scaling.get("scaleInStep"), 1, "scaleInStep", notes))),
        "scale_out_cooldown_s": cooldown,
        "scale_in_cooldown_s": cooldown,
        "pool": pool_name or "unknown-pool",
        "vip": vip or "unknown",
        "vip_port": vip_port,
        "member_port": vip_port,
        "health_path": health if health.startswith("/") else f"/{health}",
        "placement": {
            "resource_pool": str(vcenter_cfg.get("resourcePool") or "").strip() or None,
            "datastore": str(vcenter_cfg.get("datastore") or "").strip() or None,
        },
        "network": str(network.get("vlan") or "").strip() or None,
        "ip_pool": ip_pool.name,
        "ssh_credentials_ref": str(config.get("sshKeyPath") or "").strip(),
        "enabled": False,
    }
    probe = ScalingGroup.model_construct(**{**spec, "thresholds": Thresholds.model_construct(**thresholds)})
    if flapping_problems(probe):
        reasons.append("settings would flap (" + "; ".join(flapping_problems(probe)) + "); vmscale's thresholds set")
        spec["thresholds"] = Thresholds().model_dump()
        if flapping_problems(ScalingGroup.model_construct(**{**spec, "thresholds": Thresholds()})):
            reasons.append(f"a scale-in step of {spec['scale_in_step']} would still flap at min {min_size}; step 1 set")
            spec["scale_in_step"] = 1
    group = ScalingGroup.model_validate(spec)
    state = data.cooldown.get(service, {})
    routes = _routes(service, name, data, webhook_base, notes, group)
    return GroupPlan(
        service=service,
        config_id=str(config.get("id") or ""),
        spec=group,
        pool=ip_pool,
        instances=instances,
        enable=(enable_all or bool(config.get("enabled"))) and not reasons,
        disabled_reasons=reasons,
        notes=notes,
        routes=routes,
        last_scale_out_at=_epoch(state.get("lastScaleOutTime")),
        last_scale_in_at=_epoch(state.get("lastScaleInTime")),
    )


def plan_import(
    data: OriginalData,
    *,
    vcenter_templates: set[str] | None = None,
    discovered: Mapping[str, list[tuple[str | None, str]]] | None = None,
    enable: bool = False,
    webhook_base: str = "http://127.0.0.1:6010",
) -> ImportPlan:
    """The plan for every config in ``data`` (``discovered``: job → (VM name, address) found live).

    Names derive from the files alone, so every run plans the same groups: applying twice
    changes nothing.
    """
    plan = ImportPlan(problems=list(data.problems))
    taken: set[str] = set()
    for index, config in enumerate(data.configs):
        if not isinstance(config, dict):
            plan.problems.append(f"entry {index} of autoscaling-configs.json is not an object; nothing to import")
            continue
        plan.groups.append(_plan_one(config, data, taken, vcenter_templates, discovered or {}, enable, webhook_base))
    return plan

"""Reading the original's data directory for ``vmscale import`` (docs/original-system.md §5, §8.1).

``DIR`` is the original's ``backend/data`` (``autoscaling-configs.json``, ``templates.json``,
``cooldown.json``), optionally with copies of its PLG files beside it or under ``DIR/plg``
(``prometheus.yml``, ``alert_rules.yml``, ``alertmanager.yml``). Only the configs file is
required; any other file that is missing is skipped and one that cannot be read is reported
(``problems``), never silently ignored.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

import yaml

__all__ = ["OriginalData", "read_original"]

CONFIGS = "autoscaling-configs.json"
TEMPLATES = "templates.json"
COOLDOWN = "cooldown.json"
PROMETHEUS = "prometheus.yml"
ALERT_RULES = "alert_rules.yml"
ALERTMANAGER = "alertmanager.yml"


@dataclass
class OriginalData:
    """What the original's files say, as plain values."""

    configs: list[Any]
    templates: dict[str, str] = field(default_factory=dict)
    """template id → name (trimmed; the original kept names with leading spaces, lesson 31)."""
    cooldown: dict[str, dict[str, Any]] = field(default_factory=dict)
    jobs: dict[str, list[tuple[str | None, str]]] = field(default_factory=dict)
    """Prometheus job → its targets as (``vmName`` label or ``None``, IPv4 address)."""
    bad_targets: dict[str, list[str]] = field(default_factory=dict)
    """Prometheus job → targets that are not ``IPv4:port`` (reported for the jobs a config uses)."""
    alert_names: set[str] = field(default_factory=set)
    rules: dict[str, tuple[str, str]] = field(default_factory=dict)
    """Alert name → (expression, ``for``) as ``alert_rules.yml`` has it."""
    receivers: dict[str, list[str]] = field(default_factory=dict)
    """Alertmanager receiver → its webhook URLs."""
    receivers_with_auth: set[str] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)


def _find(directory: Path, name: str) -> Path | None:
    for candidate in (directory / name, directory / "plg" / name):
        if candidate.is_file():
            return candidate
    return None


def _load(path: Path, parse: Any, data: OriginalData) -> Any:
    try:
        value = parse(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError) as exc:
        data.problems.append(f"{path.name} cannot be read ({type(exc).__name__}); it is left out of the import")
        return None
    data.files.append(path.name)
    return value


def _target_address(target: Any) -> str | None:
    host = str(target).strip().rsplit(":", 1)[0] if ":" in str(target) else str(target).strip()
    try:
        return str(IPv4Address(host))
    except ValueError:
        return None


def _jobs(document: Any, data: OriginalData) -> None:
    for job in (document or {}).get("scrape_configs") or []:
        if not isinstance(job, dict) or not job.get("job_name"):
            continue
        targets: list[tuple[str | None, str]] = []
        for block in job.get("static_configs") or []:
            labels = block.get("labels") or {} if isinstance(block, dict) else {}
            for target in (block.get("targets") or []) if isinstance(block, dict) else []:
                address = _target_address(target)
                if address is None:
                    data.bad_targets.setdefault(str(job["job_name"]), []).append(str(target))
                    continue
                name = str(labels.get("vmName") or "").strip() or None
                if address not in {a for _, a in targets}:
                    targets.append((name, address))
        data.jobs[str(job["job_name"])] = targets


def _alertmanager(document: Any, data: OriginalData) -> None:
    for receiver in (document or {}).get("receivers") or []:
        if not isinstance(receiver, dict) or not receiver.get("name"):
            continue
        name = str(receiver["name"])
        urls = []
        for hook in receiver.get("webhook_configs") or []:
            if not isinstance(hook, dict):
                continue
            urls.append(str(hook.get("url", "")))
            http = hook.get("http_config") or {}
            if http.get("authorization") or http.get("basic_auth") or http.get("bearer_token_file"):
                data.receivers_with_auth.add(name)
        data.receivers[name] = urls


def read_original(directory: Path) -> OriginalData:
    """Read ``directory``; ``ValueError`` when the configs file is missing or not a JSON array."""
    configs_path = directory / CONFIGS
    if not configs_path.is_file():
        raise ValueError(f"{configs_path} not found: point `vmscale import` at the original's backend/data")
    try:
        configs = json.loads(configs_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"{CONFIGS} is not JSON ({exc}); nothing can be imported") from exc
    if not isinstance(configs, list):
        raise ValueError(f"{CONFIGS} must hold a JSON array")
    data = OriginalData(configs=configs, files=[CONFIGS])
    if (path := _find(directory, TEMPLATES)) is not None:
        entries = _load(path, json.loads, data)
        if isinstance(entries, list):
            for entry in entries:
                if isinstance(entry, dict) and str(entry.get("id") or "").strip():
                    data.templates[str(entry["id"]).strip()] = str(entry.get("name") or "").strip()
    if (path := _find(directory, COOLDOWN)) is not None:
        state = _load(path, json.loads, data)
        if isinstance(state, dict):
            data.cooldown = {str(k): v for k, v in state.items() if isinstance(v, dict)}
        elif state is not None:
            data.problems.append(f"{COOLDOWN} is not an object keyed by service; cooldowns are not carried over")
    if (path := _find(directory, PROMETHEUS)) is not None:
        document = _load(path, yaml.safe_load, data)
        if isinstance(document, dict):
            _jobs(document, data)
    if (path := _find(directory, ALERT_RULES)) is not None:
        document = _load(path, yaml.safe_load, data)
        for group in (document or {}).get("groups") or [] if isinstance(document, dict) else []:
            for rule in (group or {}).get("rules") or [] if isinstance(group, dict) else []:
                if isinstance(rule, dict) and rule.get("alert"):
                    data.alert_names.add(str(rule["alert"]))
                    data.rules[str(rule["alert"])] = (str(rule.get("expr") or ""), str(rule.get("for") or ""))
    if (path := _find(directory, ALERTMANAGER)) is not None:
        document = _load(path, yaml.safe_load, data)
        if isinstance(document, dict):
            _alertmanager(document, data)
    return data

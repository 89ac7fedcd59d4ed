"""What ships with vmscale for watching vmscale itself: Prometheus alert rules and a Grafana
dashboard over the families of ``shared.metrics`` and each service's ``metrics`` module.

* ``RULES_FILE`` — load it into the Prometheus that scrapes vmscale (``promtool``-checked);
  it expects the services as targets of the job ``SCRAPE_JOB``.
* ``DASHBOARD_FILE`` — the monitoring service provisions it into Grafana (``dashboard``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["DASHBOARD_FILE", "DASHBOARD_UID", "RULES_FILE", "SCRAPE_JOB", "dashboard", "scrape_targets"]

_HERE = Path(__file__).resolve().parent

RULES_FILE = _HERE / "vmscale-alerts.yml"
DASHBOARD_FILE = _HERE / "vmscale-dashboard.json"
DASHBOARD_UID = "vmscale-self"
SCRAPE_JOB = "vmscale-self"
"""The ``job`` label the alert rules expect on vmscale's own scrape targets."""


def dashboard(datasource_uid: str) -> dict[str, Any]:
    """The dashboard model with its data source bound to ``datasource_uid``."""
    text = DASHBOARD_FILE.read_text(encoding="utf-8")
    model: dict[str, Any] = json.loads(text.replace("${datasource}", datasource_uid))
    model["templating"]["list"] = [v for v in model["templating"]["list"] if v["name"] != "datasource"]
    return model


def scrape_targets(targets: dict[str, str]) -> list[dict[str, Any]]:
    """A Prometheus ``file_sd`` document: one target group per service (``service → host:port``),
    each labelled with its service and the job the alert rules expect."""
    return [
        {"targets": [address], "labels": {"job": SCRAPE_JOB, "service": service}}
        for service, address in sorted(targets.items())
    ]

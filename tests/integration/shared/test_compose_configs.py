"""The monitoring stack's compose configuration passes Prometheus' and Alertmanager's own checkers."""

from __future__ import annotations

import subprocess
from pathlib import Path

from testkit.promtool import promtool

COMPOSE = Path(__file__).resolve().parents[3] / "compose"


def test_the_prometheus_config_is_valid() -> None:
    checked = promtool("check", "config", str(COMPOSE / "prometheus" / "prometheus.yml"))
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_starting_alertmanager_config_is_valid() -> None:
    checked = subprocess.run(
        ["/usr/bin/amtool", "check-config", str(COMPOSE / "alertmanager" / "alertmanager.yml")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr

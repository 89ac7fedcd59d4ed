"""Agent files are rendered locally, once per tool, with the VM's own host name (lessons 18, 41)."""

from __future__ import annotations

from pathlib import PurePosixPath

import pytest
import yaml

from services.monitoring.agent_specs import (
    jmx_exporter_spec,
    node_exporter_spec,
    promtail_spec,
    supervisor_script,
    systemd_unit,
)

pytestmark = pytest.mark.unit

ROOT = PurePosixPath("/")


def test_node_exporter_unit_runs_the_binary_on_its_port() -> None:
    unit = systemd_unit(node_exporter_spec(ROOT, port=9100)).decode()
    assert "ExecStart=/usr/local/bin/node_exporter --web.listen-address=:9100\n" in unit
    assert "Restart=always" in unit and "User=nobody" in unit


def test_promtail_labels_every_log_with_the_vms_own_hostname() -> None:
    spec = promtail_spec(ROOT, hostname="web-202601011200", loki_url="http://loki:3100/loki/api/v1/push")
    config = yaml.safe_load(spec.files["config.yml"])
    labels = [sc["labels"] for job in config["scrape_configs"] for sc in job["static_configs"]]
    assert labels and all(label["hostname"] == "web-202601011200" for label in labels)
    assert "__HOSTNAME__" not in spec.files["config.yml"].decode()
    assert config["clients"] == [{"url": "http://loki:3100/loki/api/v1/push"}]
    assert {job["job_name"] for job in config["scrape_configs"]} >= {"auth", "system", "shell_history", "system_logs"}


def test_the_jmx_exporter_listens_on_its_configured_port() -> None:
    spec = jmx_exporter_spec(ROOT, port=9999)
    assert spec.argv() == [
        "/usr/bin/java",
        "-jar",
        "/usr/local/bin/jmx_exporter",
        "9999",
        "/etc/jmx_exporter/config.yml",
    ]
    assert spec.port == 9999


def test_a_prefix_moves_every_path_and_arguments_are_quoted_once() -> None:
    spec = node_exporter_spec(PurePosixPath("/tmp/vm root"), listen_host="127.0.0.1", port=9200)
    script = supervisor_script(spec).decode()
    assert "'/tmp/vm root/usr/local/bin/node_exporter' --web.listen-address=127.0.0.1:9200 &" in script
    assert "'/tmp/vm root/var/lib/vmscale/node_exporter/supervisor.pid'" in script
    assert "pkill" not in script and "killall" not in script

"""Agent files are rendered locally, once per tool, with the VM's own host name (lessons 18, 41)."""

from __future__ import annotations

from pathlib import PurePosixPath

import yaml

from services.monitoring.agent_specs import (
    jmx_exporter_spec,
    node_exporter_spec,
    promtail_spec,
    supervisor_script,
    systemd_unit,
)

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
    assert {job["job_name"] for job in config["scrape_configs"]} >= {"system", "system_logs"}


def paths(spec) -> set[str]:
    config = yaml.safe_load(spec.files["config.yml"])
    return {sc["labels"]["__path__"] for job in config["scrape_configs"] for sc in job["static_configs"]}


def test_promtail_ships_no_shell_history_or_auth_log_unless_asked() -> None:
    default = paths(promtail_spec(ROOT, hostname="web-01", loki_url="http://loki:3100/loki/api/v1/push"))
    assert not any(path.endswith(("sh_history", "auth.log", "/secure")) for path in default)
    opted = paths(promtail_spec(ROOT, hostname="web-01", loki_url="http://loki:3100/loki/api/v1/push", sensitive=True))
    assert {"/root/.bash_history", "/home/*/.bash_history", "/var/log/auth.log"} <= opted
    assert default < opted


def test_the_jmx_exporter_listens_on_its_own_port_and_reads_the_services_jmx_port() -> None:
    spec = jmx_exporter_spec(ROOT, port=9405, jmx_port=9999)
    assert spec.argv() == [
        "/usr/bin/java",
        "-jar",
        "/opt/jmx_exporter/jmx_prometheus_httpserver.jar",
        "9405",
        "/etc/jmx_exporter/config.yml",
    ]
    assert spec.port == 9405 and str(spec.binary) == "/opt/jmx_exporter/jmx_prometheus_httpserver.jar"
    config = yaml.safe_load(spec.files["config.yml"])
    assert config == {"hostPort": "127.0.0.1:9999", "lowercaseOutputName": False, "rules": [{"pattern": ".*"}]}


def test_the_jmx_exporter_unit_runs_java_on_the_jar_with_the_listen_port_first() -> None:
    spec = jmx_exporter_spec(
        PurePosixPath("/srv/vm"), port=9404, jmx_port=7199, listen_host="127.0.0.5", java="/opt/jdk/bin/java"
    )
    unit = systemd_unit(spec).decode()
    exec_start = next(line for line in unit.splitlines() if line.startswith("ExecStart="))
    assert exec_start == (
        "ExecStart=/opt/jdk/bin/java -jar /srv/vm/opt/jmx_exporter/jmx_prometheus_httpserver.jar"
        " 127.0.0.5:9404 /srv/vm/etc/jmx_exporter/config.yml"
    )
    assert yaml.safe_load(spec.files["config.yml"])["hostPort"] == "127.0.0.1:7199"


def test_a_prefix_moves_every_path_and_arguments_are_quoted_once() -> None:
    spec = node_exporter_spec(PurePosixPath("/tmp/vm root"), listen_host="127.0.0.1", port=9200)
    script = supervisor_script(spec).decode()
    assert "'/tmp/vm root/usr/local/bin/node_exporter' --web.listen-address=127.0.0.1:9200 &" in script
    assert "'/tmp/vm root/var/lib/vmscale/node_exporter/supervisor.pid'" in script
    assert "pkill" not in script and "killall" not in script

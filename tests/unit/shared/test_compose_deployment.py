"""The compose deployment would start as written: NATS cluster with auth, the image, the monitoring stack.

No Docker engine runs here: the files are parsed and checked against the code that reads them.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from services.monitoring.settings import MonitoringSettings
from shared.nats_auth import authorization_block, password_variable
from shared.nats_connection import parse_servers
from shared.subjects import SERVICES
from tests.unit.shared.test_compose import settings_class

ROOT = Path(__file__).resolve().parents[3]
COMPOSE = ROOT / "compose"


READ_BY_ANOTHER = {"WEBHOOK_CREDENTIALS_FILE": "alertmanager"}
"""Settings naming a path that another container reads (the monitoring service writes it into
Alertmanager's config)."""


def compose() -> dict[str, Any]:
    return dict(yaml.safe_load((COMPOSE / "docker-compose.yml").read_text()))


def env_file(service: str) -> dict[str, str]:
    pairs = {}
    for line in (COMPOSE / "env" / f"{service}.env.example").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition("=")
            pairs[key.strip()] = value.strip()
    return pairs


def test_the_nats_authorization_is_the_generated_one() -> None:
    assert (COMPOSE / "nats" / "auth.conf").read_text() == authorization_block(), (
        "regenerate: vmscale nats-auth > compose/nats/auth.conf"
    )


def test_every_nats_node_loads_the_config_and_gets_every_password() -> None:
    services = compose()["services"]
    for node in ("nats-1", "nats-2", "nats-3"):
        definition = services[node]
        assert definition["command"][:2] == ["-c", "/etc/nats/nats.conf"]
        assert "./nats:/etc/nats:ro" in definition["volumes"]
        assert set(definition["environment"]) == {password_variable(service) for service in SERVICES}
    assert "include ./auth.conf" in (COMPOSE / "nats" / "nats.conf").read_text()


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_logs_in_as_itself_to_all_three_nodes_with_three_replicas(service: str) -> None:
    env = env_file(service)
    assert parse_servers(env["NATS_URL"]) == [f"nats://nats-{n}:4222" for n in (1, 2, 3)]
    assert env["NATS_REPLICAS"] == "3"
    assert env["NATS_USER"] == service
    assert env["NATS_PASSWORD_FILE"] == f"/run/secrets/nats_password_{service}"


@pytest.mark.parametrize("service", SERVICES)
def test_every_secret_file_a_service_reads_is_mounted_and_declared(service: str) -> None:
    document = compose()
    mounted = set(document["services"][service].get("secrets", []))
    own = [value for key, value in env_file(service).items() if key not in READ_BY_ANOTHER]
    read = {m.group(1) for value in own for m in re.finditer(r"^/run/secrets/(\w+)$", value)}
    assert read <= mounted, f"{service} reads secrets it does not mount: {sorted(read - mounted)}"
    assert mounted <= set(document["secrets"])


def test_every_named_volume_is_declared() -> None:
    document = compose()
    for name, definition in document["services"].items():
        for volume in definition.get("volumes", []):
            source = volume.split(":", 1)[0]
            if not source.startswith((".", "/")):
                assert source in document["volumes"], f"{name}: volume {source} is not declared"


def test_the_image_is_built_by_the_dockerfile_and_runs_unprivileged_without_build_tools() -> None:
    service = compose()["services"]["scaler"]
    assert service["build"] == {"context": "..", "dockerfile": "Dockerfile"}
    dockerfile = (ROOT / service["build"]["dockerfile"]).read_text()
    final = dockerfile.rsplit("\nFROM ", 1)[1]
    assert re.search(r"^USER (\d+)", final, re.MULTILINE) and "USER 0" not in final
    for tool in ("uv", "gcc", "build-essential", "apt-get"):
        assert not re.search(rf"^RUN .*\b{tool}\b", final, re.MULTILINE), tool
    assert "COPY --from=build /app/services ./services" in final
    for name in SERVICES:  # each service's command, `python -m services.<name>`, has its module
        assert (ROOT / "services" / name / "__main__.py").is_file()
        assert compose()["services"][name]["command"] == ["python", "-m", f"services.{name}"]


def _mounted_at(service: dict[str, Any], path: str) -> str | None:
    """The volume of ``service`` that holds ``path`` (a named volume), if any."""
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        if path.startswith(target.rstrip("/") + "/"):
            return str(source)
    return None


def test_prometheus_and_alertmanager_read_the_files_monitoring_writes() -> None:
    services = compose()["services"]
    env = env_file("monitoring")
    prometheus = yaml.safe_load((COMPOSE / "prometheus" / "prometheus.yml").read_text())
    file_sd = [f for job in prometheus["scrape_configs"] for sd in job.get("file_sd_configs", []) for f in sd["files"]]
    assert file_sd == [env["FILE_SD_DIR"] + "/*.json"]
    assert prometheus["rule_files"] == [env["RULES_DIR"] + "/*.yml"]
    for path, reader in ((env["FILE_SD_DIR"], "prometheus"), (env["RULES_DIR"], "prometheus")):
        volume = _mounted_at(services["monitoring"], path)
        assert volume is not None and volume == _mounted_at(services[reader], path)
    am_config = env["ALERTMANAGER_CONFIG"]
    volume = _mounted_at(services["monitoring"], am_config)
    assert volume is not None and volume == _mounted_at(services["alertmanager"], am_config)
    assert f"--config.file={am_config}" in services["alertmanager"]["command"]
    init = services["volumes-init"]  # creates the directories and the starting config, as vmscale's user
    assert {_mounted_at(init, env[name] + "/x") for name in ("FILE_SD_DIR", "RULES_DIR")} == {"prometheus-sd"}
    assert _mounted_at(init, am_config) == "alertmanager-config"
    assert f"cp /etc/alertmanager/initial.yml {am_config}" in init["command"][0]
    assert "chown -R 10001:10001" in init["command"][0]
    for reader in ("monitoring", "prometheus", "alertmanager"):
        assert services[reader]["depends_on"]["volumes-init"] == {"condition": "service_completed_successfully"}
    assert "./prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro" in services["prometheus"]["volumes"]


def _final_stage() -> str:
    return (ROOT / "Dockerfile").read_text().rsplit("\nFROM ", 1)[1]


def test_the_image_carries_promtool_and_amtool_where_the_monitoring_service_runs_them() -> None:
    """The monitoring service validates every rule file and Alertmanager config with them before
    writing (``adapters/checkers.py``); they come from the same images compose runs."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    stages = dict(re.findall(r"^FROM (\S+) AS (\w+)$", dockerfile, re.MULTILINE))
    services = compose()["services"]
    env = env_file("monitoring")
    for tool, server in (("promtool", "prometheus"), ("amtool", "alertmanager")):
        target = env.get(tool.upper(), MonitoringSettings.model_fields[tool].default)
        copied = re.search(rf"^COPY --from=(\w+) (\S+) {re.escape(target)}$", _final_stage(), re.MULTILINE)
        assert copied, f"the image has no {target}"
        assert Path(copied.group(2)).name == tool
        image = {stage: image for image, stage in stages.items()}[copied.group(1)]
        assert image == services[server]["image"], f"{tool} from {image}, {server} runs {services[server]['image']}"


def _image_directories() -> set[str]:
    """Directories the final stage creates (``install -d``) or copies the code to."""
    made = {part for line in re.findall(r"install -d (.+)$", _final_stage(), re.MULTILINE) for part in line.split()}
    return {part for part in made if part.startswith("/")} | {"/app"}


def _provided(definition: dict[str, Any], path: str) -> bool:
    secrets = {f"/run/secrets/{name}" for name in definition.get("secrets", [])}
    configs = {c["target"] for c in definition.get("configs", []) if isinstance(c, dict)}
    mounts = {v.split(":")[1] for v in definition.get("volumes", [])}
    if path in secrets | configs:
        return True
    uses_image = definition.get("image") == compose()["services"]["scaler"]["image"]
    under = mounts | (_image_directories() if uses_image else set())
    return any(path == d or path.startswith(d.rstrip("/") + "/") for d in under)


@pytest.mark.parametrize("service", SERVICES)
def test_every_path_a_service_is_given_exists_in_the_container_that_reads_it(service: str) -> None:
    services = compose()["services"]
    env = env_file(service) | {k: str(v) for k, v in services[service].get("environment", {}).items()}
    for key, value in env.items():
        if value.startswith("/"):
            reader = READ_BY_ANOTHER.get(key, service)
            assert _provided(services[reader], value), f"{key}={value}: nothing provides it in {reader}"


def test_every_repository_file_compose_mounts_exists_and_every_operator_file_is_documented() -> None:
    document = compose()
    for name, definition in document["services"].items():
        for volume in definition.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("."):
                assert (COMPOSE / source).exists(), f"{name}: {source} is not in compose/"
    deploying = (ROOT / "docs" / "deploying.md").read_text()
    for section in ("secrets", "configs"):
        for name, definition in document[section].items():
            assert definition["file"].startswith("./"), name
            assert definition["file"].removeprefix("./") in deploying, f"docs/deploying.md does not explain {name}"


def test_every_image_is_pinned_or_built_here() -> None:
    for name, definition in compose()["services"].items():
        image = definition["image"]
        if "build" not in definition:
            assert ":" in image and not image.endswith(":latest"), f"{name}: {image} is not pinned"


def test_grafana_provisions_the_data_source_vmscale_dashboards_name() -> None:
    services = compose()["services"]
    uid = env_file("monitoring").get(
        "GRAFANA_DATASOURCE_UID", MonitoringSettings.model_fields["grafana_datasource_uid"].default
    )
    assert _mounted_at(services["grafana"], "/etc/grafana/provisioning/datasources/x") == "./grafana/provisioning"
    provisioned = yaml.safe_load((COMPOSE / "grafana" / "provisioning" / "datasources" / "vmscale.yml").read_text())
    by_uid = {source["uid"]: source for source in provisioned["datasources"]}
    assert by_uid[uid]["type"] == "prometheus"
    assert by_uid[uid]["url"] == env_file("monitoring")["PROMETHEUS_URL"]


def test_prometheus_scrapes_every_replica_of_every_service_on_its_metrics_port() -> None:
    prometheus = yaml.safe_load((COMPOSE / "prometheus" / "prometheus.yml").read_text())
    (job,) = [job for job in prometheus["scrape_configs"] if job["job_name"] == "vmscale_services"]
    scraped = {tuple(sd["names"]): sd["port"] for sd in job["dns_sd_configs"]}
    services = compose()["services"]
    for service in SERVICES:
        env = env_file(service) | {k: str(v) for k, v in services[service].get("environment", {}).items()}
        cls = settings_class(service)
        port = int(env.get("METRICS_PORT", cls.model_fields["metrics_port"].default)) or int(env["HTTP_PORT"])
        assert scraped[(service,)] == port, service
        assert env["METRICS_HOST"] == "0.0.0.0", f"{service} serves its metrics on loopback only"


LISTENS = {"prometheus": 9090, "alertmanager": 9093, "grafana": 3000, "loki": 3100, "redis": 6379, "postgres": 5432}
"""Where the third-party containers listen (their images' defaults, which compose keeps)."""


def _listening_port(name: str) -> int:
    if name.startswith("nats-"):
        return int(re.search(r"^listen: [\d.]+:(\d+)$", (COMPOSE / "nats" / "nats.conf").read_text(), re.M)[1])
    if name == "gateway":
        return int(compose()["services"]["gateway"]["environment"]["HTTP_PORT"])
    return LISTENS[name]


@pytest.mark.parametrize("service", SERVICES)
def test_every_address_a_service_is_given_is_a_compose_service_on_the_port_it_listens_on(service: str) -> None:
    """Hosts under example.internal are the operator's own systems (vCenter, BIG-IP, this host)."""
    services = compose()["services"]
    for key, value in env_file(service).items():
        for host, port in re.findall(r"\w+://([\w.-]+)(?::(\d+))?", value):
            if host.endswith(".example.internal"):
                continue
            assert host in services, f"{key}: {host} is not a compose service"
            assert port and int(port) == _listening_port(host), f"{key}: {host} listens on {_listening_port(host)}"


def test_every_published_port_is_one_its_container_listens_on() -> None:
    for name, definition in compose()["services"].items():
        for published in definition.get("ports", []):
            assert int(str(published).rsplit(":", 1)[1]) == _listening_port(name), f"{name}: {published}"

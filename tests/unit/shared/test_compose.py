"""The compose deployment follows the Compose specification, runs two replicas of each service and
sets only environment variables its services actually read, which they accept as given."""

from __future__ import annotations

import copy
import importlib
import json
import os
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from pydantic_settings import BaseSettings

from shared.subjects import SERVICES

ROOT = Path(__file__).resolve().parents[3]
COMPOSE = ROOT / "compose"
SCHEMA = ROOT / "tests" / "data" / "compose-spec.json"


def settings_class(service: str) -> type[BaseSettings]:
    module = importlib.import_module(f"services.{service}.settings")
    return next(
        value
        for name, value in vars(module).items()
        if name.endswith("Settings")
        and isinstance(value, type)
        and issubclass(value, BaseSettings)
        and value.__module__ == module.__name__
    )


def env_file(path: Path) -> dict[str, str]:
    pairs = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            pairs[key.strip()] = value.strip()
    return pairs


def service_environment(definition: dict) -> dict[str, str]:
    env: dict[str, str] = {}
    for name in definition.get("env_file", []):
        env.update(env_file(COMPOSE / name))
    environment = definition.get("environment", {})
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) for item in environment)
    env.update({key: str(value) for key, value in environment.items()})
    return env


def test_compose_defines_every_service_and_a_three_node_nats_cluster() -> None:
    compose = yaml.safe_load((COMPOSE / "docker-compose.yml").read_text())
    assert set(SERVICES) <= set(compose["services"])
    assert {"nats-1", "nats-2", "nats-3", "postgres", "redis", "prometheus", "alertmanager", "grafana", "loki"} <= set(
        compose["services"]
    )


@pytest.mark.parametrize("service", SERVICES)
def test_every_variable_set_for_a_service_exists_in_its_settings(service: str) -> None:
    compose = yaml.safe_load((COMPOSE / "docker-compose.yml").read_text())
    cls = settings_class(service)
    prefix = str(cls.model_config.get("env_prefix", "")).upper()
    known = {f"{prefix}{name}".upper() for name in cls.model_fields}
    env = service_environment(compose["services"][service])
    unknown = [key for key in env if key not in known and key.removesuffix("_FILE") not in known]
    assert env, f"{service} sets no environment at all"
    assert unknown == []


@pytest.mark.parametrize("path", sorted((COMPOSE / "env").glob("*.example")), ids=lambda p: p.name)
def test_example_env_files_hold_no_inline_secret(path: Path) -> None:
    secret_words = ("PASSWORD", "TOKEN", "SECRET", "PRIVATE_KEY", "API_KEY")
    for key, value in env_file(path).items():
        if any(word in key for word in secret_words) and not key.endswith("_FILE"):
            pytest.fail(f"{path.name}: {key} must be given as {key}_FILE")
        embeds = "://" in value and "@" in value.split("://", 1)[1].split("/", 1)[0]
        assert not embeds, f"{path.name}: {key} embeds credentials in a URL"


def schema_errors(document: dict[str, Any]) -> list[str]:
    """What the Compose specification's JSON schema (tests/data/README.md) says is wrong."""
    validator = jsonschema.Draft7Validator(json.loads(SCHEMA.read_text()))
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]


def test_the_compose_file_follows_the_compose_specification() -> None:
    assert schema_errors(yaml.safe_load((COMPOSE / "docker-compose.yml").read_text())) == []


@pytest.mark.parametrize(
    ("where", "key", "value"),
    [
        (("services", "scaler"), "replica", 2),  # deploy.replicas misspelt at the wrong level
        (("services", "scaler", "deploy"), "replica", 2),
        (("services", "monitoring", "depends_on", "postgres"), "condition", "service_ready"),
        (("secrets", "database_url"), "path", "./secrets/database_url"),
        (("volumes",), "Prometheus SD", {}),
    ],
    ids=["unknown-service-key", "unknown-deploy-key", "unknown-condition", "unknown-secret-key", "bad-volume-name"],
)
def test_the_schema_check_refuses_a_planted_mistake(where: tuple[str | int, ...], key: str, value: object) -> None:
    document = copy.deepcopy(yaml.safe_load((COMPOSE / "docker-compose.yml").read_text()))
    node = document
    for step in where:
        node = node[step]
    node[key] = value
    assert schema_errors(document) != []


def _published_host_ports(definition: dict[str, Any]) -> list[range]:
    ranges = []
    for port in definition.get("ports", []):
        host = str(port).rsplit(":", 1)[0].rsplit(":", 1)[-1]
        first, _, last = host.partition("-")
        ranges.append(range(int(first), int(last or first) + 1))
    return ranges


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_runs_two_replicas_whose_published_ports_do_not_collide(service: str) -> None:
    definition = yaml.safe_load((COMPOSE / "docker-compose.yml").read_text())["services"][service]
    replicas = definition.get("deploy", {}).get("replicas", 1)
    assert replicas >= 2, f"{service} runs {replicas} replica(s)"
    assert "container_name" not in definition, "a fixed container name allows one replica"
    for host_ports in _published_host_ports(definition):
        assert len(host_ports) >= replicas, f"{service}: {replicas} replicas cannot share host port {host_ports}"


def _secret_content(name: str) -> str:
    if name == "database_url":
        return "postgresql+psycopg://vmscale@postgres:5432/vmscale"
    return f"not-a-placeholder-{name}"


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_accepts_its_compose_environment(
    service: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The settings the service reads at start validate (the gateway's bind without TLS, the F5
    device list, …), with each mounted secret replaced by a file holding a made-up value."""
    definition = yaml.safe_load((COMPOSE / "docker-compose.yml").read_text())["services"][service]
    cls = settings_class(service)
    prefix = str(cls.model_config.get("env_prefix", "")).upper()
    known = {f"{prefix}{name}".upper() for name in cls.model_fields}
    for key in list(os.environ):
        if key in known or key.removesuffix("_FILE") in known:
            monkeypatch.delenv(key)
    for key, value in service_environment(definition).items():
        secret = re.fullmatch(r"/run/secrets/(\w+)", value)
        if secret and secret.group(1) in definition.get("secrets", []):
            path = tmp_path / secret.group(1)
            path.write_text(_secret_content(secret.group(1)))
            value = str(path)
        monkeypatch.setenv(key, value)
    settings = cls()
    assert settings.nats_replicas == 3

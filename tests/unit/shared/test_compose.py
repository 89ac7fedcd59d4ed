"""The compose deployment sets only environment variables its services actually read."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
import yaml
from pydantic_settings import BaseSettings

from shared.subjects import SERVICES

pytestmark = pytest.mark.unit

COMPOSE = Path(__file__).resolve().parents[3] / "compose"


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

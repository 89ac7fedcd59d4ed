"""The generated NATS permissions match what each service really subscribes and publishes.

The services' routers are built (nothing connects) and walked: every durable consumer, responder
and core subscription must be allowed, and every durable and responder must be declared, so the
permissions and the code cannot drift apart. The subjects a service's code names (``subjects.X``)
must all be covered by its rights, so a new publish without a permission fails here, not in
production.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path
from typing import Any

import pytest

from shared import subjects
from shared.nats_auth import EVERY_SERVICE, RIGHTS, authorization_block, password_variable, permissions
from shared.runtime import ServiceRuntime
from shared.subjects import SERVICES, Kind

ROOT = Path(__file__).resolve().parents[3]
SETTINGS = {
    "inventory": "InventorySettings",
    "monitoring": "MonitoringSettings",
    "scaler": "ScalerSettings",
    "loadbalancer": "LoadbalancerSettings",
    "gateway": "GatewaySettings",
}
TEST_DOUBLES = {"testing.py", "fake_world.py", "memory.py"}
"""Modules of fakes that stand in for other services in tests (not what the service does)."""


def subscriptions(service: str) -> list[tuple[str, bool, str]]:
    """(subject, durable JetStream?, queue) of every subscriber the service's app registers."""
    settings = getattr(importlib.import_module(f"services.{service}.settings"), SETTINGS[service])()
    runtime = ServiceRuntime(service, settings)
    importlib.import_module(f"services.{service}.app").create_app(settings, runtime)
    found = []
    for subscriber in runtime.bus.broker.subscribers:
        stream: Any = getattr(subscriber, "stream", None)
        found.append((str(subscriber.subject.broker_address), stream is not None, str(subscriber.queue or "")))
    return found


def matches(pattern: str, subject: str) -> bool:
    """NATS wildcard matching (``*`` one token, ``>`` the rest)."""
    want, have = pattern.split("."), subject.split(".")
    for index, token in enumerate(want):
        if token == ">":
            return len(have) > index
        if index >= len(have) or (token != "*" and token != have[index]):
            return False
    return len(want) == len(have)


def allowed(rules: list[str], subject: str) -> bool:
    return any(matches(rule, subject) for rule in rules)


def test_every_service_has_rights_and_nothing_else_does() -> None:
    assert set(RIGHTS) == set(SERVICES)


@pytest.mark.parametrize("service", SERVICES)
def test_every_subscription_of_a_service_is_allowed_and_every_durable_declared(service: str) -> None:
    rights = RIGHTS[service]
    subscribe = permissions(service)["subscribe"]["allow"]
    publish = permissions(service)["publish"]["allow"]
    found = subscriptions(service)
    durables = {subject for subject, durable, _ in found if durable}
    responders = {subject for subject, durable, queue in found if not durable and queue}
    listeners = {subject for subject, durable, queue in found if not durable and not queue}
    if service != "gateway":  # the gateway's own durable consumers exist only in its test doubles
        assert durables == {subject.name for subject in rights.consumes}
    assert responders == {subject.name for subject in (*rights.answers, subjects.health_query(service))}
    for subject in listeners | responders:
        assert allowed(subscribe, subject), f"{service} subscribes {subject} without the right"
    for subject in durables:
        assert f"$JS.API.CONSUMER.MSG.NEXT.VMSCALE_{_stream(subject)}.{service}-" in " ".join(publish)


def _stream(name: str) -> str:
    subject = subjects.by_name(name)
    return "COMMANDS" if subject.kind is Kind.COMMAND else "EVENTS"


def _named_subjects(service: str) -> set[str]:
    """The ``subjects.X`` constants the service's own code names (fakes of other services excluded)."""
    names: set[str] = set()
    for path in (ROOT / "services" / service).rglob("*.py"):
        if path.name in TEST_DOUBLES:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "subjects":
                value = getattr(subjects, node.attr, None)
                if isinstance(value, subjects.Subject):
                    names.add(value.name)
    return names


@pytest.mark.parametrize("service", SERVICES)
def test_every_subject_a_service_names_is_within_its_rights(service: str) -> None:
    rules = permissions(service)
    everything = rules["publish"]["allow"] + rules["subscribe"]["allow"]
    for pattern in RIGHTS[service].consumes:
        everything.append(pattern.name)
    missing = sorted(name for name in _named_subjects(service) if not allowed(everything, name))
    assert missing == []


def test_a_service_may_not_publish_what_another_service_owns() -> None:
    gateway = permissions("gateway")["publish"]["allow"]
    assert not allowed(gateway, subjects.CMD_VM_DESTROY.name)
    assert not allowed(gateway, subjects.VM_CLONED.name)
    inventory = permissions("inventory")["publish"]["allow"]
    assert not allowed(inventory, subjects.CMD_POOL_ADD.name)
    assert allowed(inventory, subjects.VM_CLONED.name)
    assert allowed(inventory, subjects.dead_letter(subjects.CMD_VM_CLONE).name)
    assert not allowed(inventory, subjects.dead_letter(subjects.CMD_POOL_ADD).name)


def test_every_command_is_consumed_by_exactly_one_service() -> None:
    for command in (subject for subject in subjects.ALL if subject.kind is Kind.COMMAND):
        owners = [service for service, rights in RIGHTS.items() if command in rights.consumes]
        assert len(owners) == 1, f"{command.name}: {owners}"


def test_every_service_sends_heartbeats_and_hears_log_level_changes() -> None:
    for service in SERVICES:
        rules = permissions(service)
        for subject in EVERY_SERVICE.publishes:
            assert allowed(rules["publish"]["allow"], subject.name)
        for pattern in EVERY_SERVICE.listens:
            assert allowed(rules["subscribe"]["allow"], pattern)


def test_a_prefix_applies_to_subjects_streams_and_durables() -> None:
    rules = permissions("loadbalancer", prefix="blue")
    assert "blue.pool.member_added" in rules["publish"]["allow"]
    assert (
        "$JS.API.CONSUMER.CREATE.blue_VMSCALE_COMMANDS.loadbalancer-cmd_pool_add.blue.cmd.pool.add"
        in (rules["publish"]["allow"])
    )
    assert not any(rule.startswith("pool.") for rule in rules["publish"]["allow"])


def test_the_block_names_each_password_variable_and_holds_no_password() -> None:
    block = authorization_block()
    for service in SERVICES:
        assert f"user: {service}\n" in block
        assert f"password: ${password_variable(service)}\n" in block
    assert block.count("allow_responses: true") == len(SERVICES)


def test_a_service_given_an_nkey_logs_in_with_it_instead_of_a_password() -> None:
    public = "UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4"
    block = authorization_block(nkeys={"scaler": public})
    assert f"nkey: {public}\n" in block
    assert password_variable("scaler") not in block
    assert f"password: ${password_variable('gateway')}\n" in block


@pytest.mark.parametrize(
    ("nkeys", "problem"),
    [({"billing": "UABC"}, "not vmscale services"), ({"scaler": "SUABC"}, "starts with U")],
    ids=["unknown-service", "a-seed-not-a-public-key"],
)
def test_a_bad_nkey_mapping_is_refused(nkeys: dict[str, str], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        authorization_block(nkeys=nkeys)

"""Rules and routes: validated before install, reload once per real change, restored on failure."""

from __future__ import annotations

import pytest
import yaml

from services.monitoring.alerting import Alerting
from services.monitoring.domain import RouteOptions, RuleOptions
from shared.errors import ConfigurationError, InvalidInput
from shared.messages import AlertRuleSpec
from testkit.clock import FakeClock
from testkit.monitoring.memory import MemoryAlertmanager, MemoryChecker, MemoryPrometheus, MemoryStore

SPEC = AlertRuleSpec(job="web", cpu_high=80, memory_high=80, cpu_low=30, memory_low=30, out_for_s=60, in_for_s=120)
URL = "http://127.0.0.1:8000"
OPERATOR = {"route": {"receiver": "ops"}, "receivers": [{"name": "ops"}]}


class World:
    def __init__(self, clock: FakeClock) -> None:
        self.rules = MemoryStore()
        self.am_files = MemoryStore()
        self.am_files.files["alertmanager.yml"] = yaml.safe_dump(OPERATOR).encode()
        self.prometheus = MemoryPrometheus(rules=self.rules)
        self.alertmanager = MemoryAlertmanager(clock)
        self.checker = MemoryChecker()
        self.alerting = Alerting(
            rules=self.rules,
            am_config=self.am_files,
            am_config_name="alertmanager.yml",
            prometheus=self.prometheus,
            alertmanager=self.alertmanager,
            checker=self.checker,
            rule_options=RuleOptions(),
            route_options=RouteOptions(),
            clock=clock,
        )

    def am_config(self) -> dict:
        return yaml.safe_load(self.am_files.files["alertmanager.yml"])


@pytest.fixture
def world(clock: FakeClock) -> World:
    return World(clock)


async def test_provisioning_writes_the_rule_file_and_routes_and_reloads_each_once(world: World) -> None:
    result = await world.alerting.provision("web", SPEC, URL, 300, config_id="cfg-1")
    assert result.rule_names == ("web_HighResourceUsage", "web_LowResourceUsage")
    assert "web.yml" in world.prometheus.loaded_rules
    assert (world.prometheus.reloads, world.alertmanager.reloads) == (1, 1)
    assert [r["group"] for r in await world.alerting.routes()] == ["web", "web"]


async def test_provisioning_the_same_thing_again_reloads_nothing(world: World) -> None:
    await world.alerting.provision("web", SPEC, URL, 300)
    again = await world.alerting.provision("web", SPEC, URL, 300)
    assert (again.rules_changed, again.routes_changed) == (False, False)
    assert (world.prometheus.reloads, world.alertmanager.reloads) == (1, 1)


async def test_a_threshold_change_re_renders_the_rules(world: World) -> None:
    await world.alerting.provision("web", SPEC, URL, 300)
    changed = await world.alerting.provision("web", SPEC.model_copy(update={"cpu_high": 90}), URL, 300)
    assert changed.rules_changed and not changed.routes_changed
    assert b"> 90" in world.rules.files["web.yml"]


async def test_a_rule_file_the_checker_rejects_is_never_installed(world: World) -> None:
    world.checker.reject_rules = True
    with pytest.raises(InvalidInput):
        await world.alerting.provision("web", SPEC, URL, 300)
    assert world.rules.files == {} and world.prometheus.reloads == 0


async def test_a_failed_prometheus_reload_restores_the_previous_rules(world: World) -> None:
    await world.alerting.provision("web", SPEC, URL, 300)
    before = world.rules.files["web.yml"]
    world.prometheus.fail_next_reload = True
    with pytest.raises(ConfigurationError):
        await world.alerting.provision("web", SPEC.model_copy(update={"cpu_high": 95}), URL, 300)
    assert world.rules.files["web.yml"] == before


async def test_a_failed_alertmanager_reload_restores_its_config_and_the_rules(world: World) -> None:
    operator_bytes = world.am_files.files["alertmanager.yml"]
    world.alertmanager.fail_next_reload = True
    with pytest.raises(ConfigurationError):
        await world.alerting.provision("web", SPEC, URL, 300)
    assert world.am_files.files["alertmanager.yml"] == operator_bytes
    assert "web.yml" not in world.rules.files


async def test_remove_deletes_rules_and_routes_and_leaves_the_operators_config(world: World) -> None:
    await world.alerting.provision("web", SPEC, URL, 300)
    assert await world.alerting.remove("web") is True
    assert world.rules.files == {}
    assert world.am_config() == OPERATOR
    assert await world.alerting.remove("web") is False


async def test_the_scale_in_silence_is_one_per_group_and_extended(world: World, clock: FakeClock) -> None:
    first = await world.alerting.set_scale_in_silence("web", True, "at min")
    clock.advance(600)
    second = await world.alerting.set_scale_in_silence("web", True, "still at min")
    active = await world.alerting.silences()
    assert first == second and len(active) == 1
    assert active[0]["matchers"][1]["value"] == "web_LowResourceUsage"
    await world.alerting.set_scale_in_silence("web", False)
    assert await world.alerting.silences() == []

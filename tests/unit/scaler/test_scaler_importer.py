"""``vmscale import DIR``: the original's estate taken over without freezing it.

The fixture ``original/`` is an original ``backend/data`` with its PLG files (docs/original-system.md §5,
§8.1): base and timestamped VMs, a disabled config, a malformed ``alert_rules.yml``, a template
gone from ``templates.json``, mixed-case and 60-character service names, and a name with a space.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.scaler.domain.model import ScalingGroup
from services.scaler.domain.victims import pick_victims
from services.scaler.import_files import OriginalData, read_original
from services.scaler.import_plan import ImportPlan, derived_name, plan_import
from services.scaler.importer import apply_plan
from tests.unit.scaler.scaler_harness import Harness

ORIGINAL = Path(__file__).parent / "original"
LIVE = {"web": [("web-1", "127.0.10.31"), ("web-2", "127.0.10.32")]}
VCENTER = {"auto-vm-test-template2", "web-template"}


def the_plan() -> ImportPlan:
    return plan_import(read_original(ORIGINAL), vcenter_templates=VCENTER, discovered=LIVE)


def by_service(plan: ImportPlan) -> dict[str, Any]:
    return {g.service: g for g in plan.groups}


def test_the_dry_run_plans_every_config_as_a_group_and_names_what_it_cannot_take() -> None:
    plan = by_service(the_plan())
    assert list(plan) == [
        "auto-vm-test-service",
        "web",
        "auto-vm-test-AutoScaling",
        "no-template",
        "Payments-Gateway-Frontend-Service-Production-Cluster-Alpha-1",
        "legacy shop",
    ]
    svc = plan["auto-vm-test-service"]
    assert [(i.vm_name, i.role) for i in svc.instances] == [
        ("auto-vm-test-01", "base"),
        ("auto-vm-test-02", "base"),
        ("auto-vm-test-202512110930", "autoscaled"),
        ("auto-vm-test-202512111015", "autoscaled"),
    ]
    assert svc.spec.template == "auto-vm-test-template" and not svc.enable and svc.disabled_reasons == []
    assert (svc.spec.thresholds.out_for_s, svc.spec.thresholds.in_for_s) == (60, 300)
    assert svc.last_scale_out_at == datetime(2025, 12, 11, 8, 40, tzinfo=UTC)
    assert svc.last_scale_in_at == datetime(2025, 12, 11, 10, 0, tzinfo=UTC)
    assert len(svc.routes) == 2 and all("without credentials" in r and "credentials_file" in r for r in svc.routes)

    assert plan["web"].enable and [i.vm_name for i in plan["web"].instances] == ["web-1", "web-2"]
    assert plan["web"].spec.health_path == "/health"

    mixed = plan["auto-vm-test-AutoScaling"]
    assert mixed.spec.name == "auto-vm-test-AutoScaling" and mixed.spec.template == "auto-vm-test-template2"
    assert not mixed.enable and "vCenter has a template named 'auto-vm-test-template2'" in mixed.disabled_reasons[0]
    assert [(i.vm_name, i.role) for i in mixed.instances] == [
        ("auto-vm-test-as-1", "base"),
        ("auto-vm-test-AS-202512120800", "autoscaled"),
    ]

    gone = plan["no-template"]
    assert not gone.enable and gone.disabled_reasons == [
        "template 'template-404' is gone from templates.json; choose the group's template, then enable"
    ]

    long = plan["Payments-Gateway-Frontend-Service-Production-Cluster-Alpha-1"]
    assert long.spec.name == long.service and len(long.service) == 60
    assert len(long.pool.name) <= 63 and len(long.spec.vm_prefix) <= 40

    shop = plan["legacy shop"]
    assert shop.spec.name == "legacy-shop" and shop.spec.prometheus_job == "legacy_shop" and not shop.enable
    assert any("cannot be a group name" in r for r in shop.disabled_reasons)
    assert any("no IP range" in r for r in shop.disabled_reasons)
    assert any("would flap" in r for r in shop.disabled_reasons)
    assert shop.spec.vm_prefix == "legacy-shop-tpl"

    problems = the_plan().problems
    assert problems == ["alert_rules.yml cannot be read (ParserError); it is left out of the import"]


def test_a_job_address_without_a_vm_name_is_reported_not_invented() -> None:
    plan = by_service(plan_import(read_original(ORIGINAL), vcenter_templates=VCENTER))
    assert plan["web"].instances == []
    assert "job web: 127.0.10.31 has no VM name (no vmName label, not in vCenter); not imported" in plan["web"].notes


async def snapshot(h: Harness) -> tuple[Any, ...]:
    def read(uow: Any) -> tuple[Any, ...]:
        groups = sorted((r.spec.model_dump_json(), r.state.model_dump_json()) for r in uow.groups.all())
        instances = sorted(i.model_dump_json() for i in uow.instances.all())
        pools = sorted(p.model_dump_json() for p in uow.ip_pools.all())
        leases = sorted(lease.model_dump_json() for p in uow.ip_pools.all() for lease in uow.ip_pools.leases(p.name))
        return groups, instances, pools, leases

    return await h.store.transaction(read)


async def test_apply_writes_the_plan_and_applying_again_changes_nothing() -> None:
    h = Harness()
    plan = the_plan()
    report = await apply_plan(plan, h.store, h.scaler.admin, h.clock)
    assert set(report.outcomes.values()) == {"created"} and len(report.outcomes) == 6
    assert report.enabled == ["web"]
    svc = await h.group("auto-vm-test-service")
    assert not svc.spec.enabled and svc.state.last_scale_out_at == datetime(2025, 12, 11, 8, 40, tzinfo=UTC)
    instances = {i.vm_name: i for i in await h.instances("auto-vm-test-service")}
    assert {n: (i.base, i.protected) for n, i in instances.items()} == {
        "auto-vm-test-01": (True, True),
        "auto-vm-test-02": (True, True),
        "auto-vm-test-202512110930": (False, False),
        "auto-vm-test-202512111015": (False, False),
    }
    assert instances["auto-vm-test-202512111015"].created_at == datetime(2025, 12, 11, 10, 15, tzinfo=UTC)
    leased = {str(lease.address): lease.vm_name for lease in await h.leases("auto-vm-test-service-ips")}
    assert leased == {"127.0.10.200": "auto-vm-test-202512110930", "127.0.10.201": "auto-vm-test-202512111015"}
    assert (await h.group("web")).spec.enabled
    await h.settle()

    before = await snapshot(h)
    again = await apply_plan(the_plan(), h.store, h.scaler.admin, h.clock)
    assert set(again.outcomes.values()) == {"unchanged"} and again.enabled == ["web"]
    await h.settle()
    assert await snapshot(h) == before


async def test_the_original_autoscaled_vms_scale_in_first_newest_first_and_base_vms_never() -> None:
    h = Harness()
    await apply_plan(the_plan(), h.store, h.scaler.admin, h.clock)
    instances = await h.instances("auto-vm-test-service")
    assert [v.vm_name for v in pick_victims(instances, 4)] == [
        "auto-vm-test-202512111015",
        "auto-vm-test-202512110930",
    ]
    # and the decision loop agrees: enabled, idle, at 4 VMs over min 2, it removes the newest
    h.checker.jobs.add("auto-vm-test")
    h.checker.templates.add("auto-vm-test-template")
    h.checker.pools.add("auto-vm-test-pool")
    await h.scaler.admin.set_enabled("auto-vm-test-service", True)
    h.metrics.set("auto-vm-test-service", cpu=5, memory=5)
    h.clock.advance(3600)
    await h.settle()
    decision = await h.fire("auto-vm-test-service", "in")
    assert decision.allowed and decision.delta == -1, decision
    (activity,) = await h.activities("auto-vm-test-service")
    assert [track.vm_name for track in activity.tracks] == ["auto-vm-test-202512111015"]


def test_a_missing_configs_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"autoscaling-configs\.json not found"):
        read_original(tmp_path)


@pytest.mark.parametrize(
    ("base", "suffix"),
    [("auto-vm-test-AutoScaling", "-ips"), ("x" * 200, "-ips"), ("Ünïcode service", ""), ("---", "-ips")],
)
def test_derived_names_are_valid_names_within_their_limit(base: str, suffix: str) -> None:
    import re

    name = derived_name(base, suffix)
    assert re.fullmatch(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?", name) and len(name) <= 63


# -- any config the original's validation accepts imports (docs/original-system.md §5.1) ---------------

_names = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=90
).filter(lambda s: s.strip() != "")
_octet = st.integers(min_value=0, max_value=255)
_ipv4 = st.tuples(_octet, _octet, _octet, _octet).map(lambda t: ".".join(map(str, t)))


@st.composite
def original_configs(draw: st.DrawFn) -> dict[str, Any]:
    """A config the original's server-side validation accepts (each rule only when present)."""
    cpu_in = draw(st.integers(0, 99))
    mem_in = draw(st.integers(0, 99))
    duration = draw(st.integers(1, 30))
    config: dict[str, Any] = {
        "id": f"config-{draw(st.integers(1, 10**13))}",
        "serviceName": draw(_names),
        "templateId": draw(st.sampled_from(["template-1734000000000", "gone", "vcenter-0a0b0c0d-web-template"])),
        "enabled": draw(st.booleans()),
        "monitoring": {
            "cpuThreshold": draw(st.integers(cpu_in + 1, 100)),
            "memoryThreshold": draw(st.integers(mem_in + 1, 100)),
            "scaleInCpuThreshold": cpu_in,
            "scaleInMemoryThreshold": mem_in,
            "duration": duration,
            "scaleInDuration": draw(st.integers(duration + 1, 120)),
        },
        "scaling": {},
        "f5": {"poolName": draw(_names), "vip": draw(_names), "vipPort": draw(st.integers(1, 65535))},
        "network": {},
        "vcenter": {"resourcePool": draw(_names), "datastore": draw(_names)},
    }
    if draw(st.booleans()):
        config["monitoring"]["prometheusJobName"] = draw(_names)
    if draw(st.booleans()):
        low = draw(st.integers(1, 20))
        config["scaling"].update({"minVms": low, "maxVms": draw(st.integers(low, 40))})
    if draw(st.booleans()):
        config["scaling"].update({"scaleOutStep": draw(st.integers(1, 5)), "scaleInStep": draw(st.integers(1, 5))})
    if draw(st.booleans()):
        config["network"] = {"ipPoolStart": draw(_ipv4), "ipPoolEnd": draw(_ipv4), "subnet": "255.255.255.0"}
    if draw(st.booleans()):
        config["vmPrefix"] = draw(_names)
    return config


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(original_configs(), min_size=1, max_size=4))
def test_any_config_the_original_accepts_is_planned_never_skipped(configs: list[dict[str, Any]]) -> None:
    data = OriginalData(configs=configs, templates={"template-1734000000000": "web-template"})
    plan = plan_import(data)
    assert len(plan.groups) == len(configs) and plan.problems == []
    names = [g.spec.name.lower() for g in plan.groups]
    assert len(set(names)) == len(names), "group names are unique regardless of case"
    for config, group in zip(configs, plan.groups, strict=True):
        ScalingGroup.model_validate(group.spec.model_dump())
        assert group.enable == (bool(config["enabled"]) and not group.disabled_reasons)
        assert group.spec.name == config["serviceName"].strip() or group.disabled_reasons


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(original_configs(), min_size=1, max_size=3))
async def test_any_config_the_original_accepts_is_applied(configs: list[dict[str, Any]]) -> None:
    h = Harness()
    plan = plan_import(OriginalData(configs=configs))
    report = await apply_plan(plan, h.store, h.scaler.admin, h.clock)
    assert all(outcome == "created" for outcome in report.outcomes.values()), report.outcomes
    assert len(await h.store.transaction(lambda uow: uow.groups.all())) == len(configs)


def test_the_import_command_is_a_dry_run_by_default(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from cli.main import app

    result = CliRunner().invoke(app, ["import", str(ORIGINAL), "--no-discover"], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    assert "dry run: nothing was written" in result.output
    assert "auto-vm-test-202512111015 (autoscaled)" in result.output and "auto-vm-test-01 (base)" in result.output
    assert "legacy shop → legacy-shop" in result.output
    missing = CliRunner().invoke(app, ["import", str(tmp_path), "--no-discover"], env={"COLUMNS": "250"})
    assert missing.exit_code == 2 and "autoscaling-configs.json" in missing.output


async def test_a_cooldown_carried_over_from_the_original_blocks_until_it_ends() -> None:
    from testkit.clock import FakeClock

    # web scaled out at 11:00 (cooldown.json) with a 120 s cooldown; vmscale takes over at 11:01
    h = Harness(FakeClock(datetime(2025, 12, 11, 11, 1, tzinfo=UTC)))
    await apply_plan(the_plan(), h.store, h.scaler.admin, h.clock)
    await h.settle()
    h.metrics.set("web", cpu=95, memory=50)
    blocked = await h.fire("web", "out")
    assert not blocked.allowed and blocked.reason == "cooldown", blocked
    h.clock.advance(120)
    allowed = await h.fire("web", "out", fingerprint="fp2")
    assert allowed.allowed and allowed.delta == 1, allowed


def test_rules_the_original_did_not_re_render_after_an_update_are_listed(tmp_path: Path) -> None:
    import shutil

    shutil.copytree(ORIGINAL, tmp_path / "data")
    cpu = 'max(100 - (avg by (instance) (rate(node_cpu_seconds_total{mode="idle",job="auto-vm-test"}[5m])) * 100))'
    mem = (
        "max((1 - (avg by (instance) (node_memory_MemAvailable_bytes)"
        " / avg by (instance) (node_memory_MemTotal_bytes))) * 100)"
    )
    (tmp_path / "data" / "alert_rules.yml").write_text(
        "groups:\n"
        "  - name: auto-vm-test-service-autoscale\n"
        "    interval: 15s\n"
        "    rules:\n"
        "      - alert: auto-vm-test-service_HighResourceUsage\n"
        f"        expr: ({cpu} > 70 OR {mem} > 80)\n"
        "        for: 5m\n"
        "      - alert: auto-vm-test-service_LowResourceUsage\n"
        f"        expr: ({cpu} < 30 AND {mem} < 30)\n"
        "        for: 5m\n"
    )
    plan = by_service(plan_import(read_original(tmp_path / "data"), vcenter_templates=VCENTER, discovered=LIVE))
    notes = plan["auto-vm-test-service"].notes
    assert notes == [
        "rule auto-vm-test-service_HighResourceUsage: thresholds 70/80 (CPU/memory) in alert_rules.yml, 80/80 in "
        "the config; for 5m in alert_rules.yml, 1m in the config; vmscale renders the config's"
    ], notes
    assert any("alert_rules.yml has no rule web_HighResourceUsage" in n for n in plan["web"].notes)

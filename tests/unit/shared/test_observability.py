"""vmscale's shipped alert rules and dashboard: promtool accepts the rules and its rule tests
show each alert firing (and not firing) on the series our services export; every metric the
rules and the dashboard name is one a service really exports."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from lab.monitoring import lab_speed_rules
from services.gateway.heartbeats import HeartbeatBoard
from services.gateway.metrics import GatewayMetrics
from services.inventory.metrics import register_inventory_metrics
from services.inventory.service import InventoryService
from services.scaler.metrics import ScalerMetrics
from shared.observability import DASHBOARD_FILE, DASHBOARD_UID, RULES_FILE, SCRAPE_JOB, dashboard, scrape_targets
from shared.runtime import ServiceRuntime
from shared.settings import ServiceSettings
from testkit.clock import FakeClock
from testkit.promtool import promtool

_NAME = re.compile(r"\bvmscale_[a-z_]+")
_SUFFIXES = ("_bucket", "_count", "_sum", "_total", "_created")


def exported_families(tmp_path: Path) -> set[str]:
    """Every vmscale family any service exports (a scrape of each service's registry)."""
    registry = CollectorRegistry()
    ServiceRuntime("scaler", ServiceSettings(state_dir=tmp_path), registry=registry)
    ScalerMetrics(registry)
    GatewayMetrics(registry, HeartbeatBoard(FakeClock(), 10))
    register_inventory_metrics(registry, InventoryService(None, None, None))  # type: ignore[arg-type]
    text = generate_latest(registry).decode()
    names = {family.name for family in text_string_to_metric_families(text)}
    return {name for name in names if name.startswith("vmscale_")}


def family_of(name: str, known: set[str]) -> str:
    if name in known:
        return name
    for suffix in _SUFFIXES:
        if name.endswith(suffix) and name.removesuffix(suffix) in known:
            return name.removesuffix(suffix)
    return name


def test_promtool_accepts_the_shipped_rules_and_their_lab_speed_copy(tmp_path: Path) -> None:
    shipped = promtool("check", "rules", str(RULES_FILE))
    assert shipped.returncode == 0, shipped.stdout + shipped.stderr
    lab = tmp_path / "lab.yml"
    lab.write_text(lab_speed_rules(RULES_FILE.read_text()))
    checked = promtool("check", "rules", str(lab))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    holds = {rule.get("for") for group in yaml.safe_load(lab.read_text())["groups"] for rule in group["rules"]}
    assert holds <= {None, "2s"}


def test_the_rules_cover_what_the_issue_asks_for() -> None:
    names = {rule["alert"] for group in yaml.safe_load(RULES_FILE.read_text())["groups"] for rule in group["rules"]}
    assert {
        "VmscaleActivityRolledBack",
        "VmscaleGroupAtMaxUnderLoad",
        "VmscaleIpPoolLow",
        "VmscaleDeadLetters",
        "VmscaleChangeFeedStale",
        "VmscaleServiceDown",
        "VmscaleServiceHeartbeatMissing",
        "VmscaleDecisionLatencyHigh",
    } <= names


def test_every_metric_the_rules_and_the_dashboard_name_is_exported(tmp_path: Path) -> None:
    known = exported_families(tmp_path)
    rules = yaml.safe_load(RULES_FILE.read_text())
    expressions = [rule["expr"] for group in rules["groups"] for rule in group["rules"]]
    model = json.loads(DASHBOARD_FILE.read_text())
    expressions += [target["expr"] for panel in model["panels"] for target in panel["targets"]]
    expressions += [variable["query"] for variable in model["templating"]["list"] if variable["type"] == "query"]
    named = {family_of(name, known) for expr in expressions for name in _NAME.findall(expr)}
    assert named - known == set()
    assert len(named) >= 25  # the dashboard shows most of what is exported


RULE_TESTS = """
rule_files: [{rules}]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'vmscale_activities_total{{group="web",kind="scale_out",outcome="rolled_back"}}'
        values: '_ _ 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1'
      - series: 'vmscale_activities_total{{group="web",kind="scale_out",outcome="succeeded"}}'
        values: '1+1x16'
      - series: 'vmscale_ip_pool_free_addresses{{pool="lab"}}'
        values: '5 5 0 0 0 0 0 0 0 0 0 0'
      - series: 'vmscale_ip_pool_addresses{{pool="lab"}}'
        values: '10x12'
      - series: 'up{{job="{job}",service="scaler"}}'
        values: '1 1 0 0 0 0'
      - series: 'vmscale_dead_letters_stored{{subject="cmd.vm.clone"}}'
        values: '0 0 2 2 2 2'
      - series: 'vmscale_group_size{{group="web"}}'
        values: '4x20'
      - series: 'vmscale_group_max_size{{group="web"}}'
        values: '4x20'
      - series: 'ALERTS{{alertname="web_HighResourceUsage",alertstate="firing"}}'
        values: '1x20'
    alert_rule_test:
      - eval_time: 3m
        alertname: VmscaleActivityRolledBack
        exp_alerts:
          - exp_labels: {{severity: warning, group: web, kind: scale_out, outcome: rolled_back}}
            exp_annotations:
              summary: "A scale_out activity of group web ended rolled_back"
              description: "See the group's activities in the vmscale UI for the failed step and its reason."
      - eval_time: 1m
        alertname: VmscaleActivityRolledBack
        exp_alerts: []
      - eval_time: 4m
        alertname: VmscaleServiceDown
        exp_alerts:
          - exp_labels: {{severity: critical, job: {job}, service: scaler}}
            exp_annotations:
              summary: "vmscale service scaler does not answer its metrics scrape"
              description: "The process is down or hung; `vmscale run all` restarts it, a unit manager should too."
      - eval_time: 8m
        alertname: VmscaleIpPoolLow
        exp_alerts:
          - exp_labels: {{severity: warning, pool: lab}}
            exp_annotations:
              summary: "IP pool lab has less than 10 % of its addresses free"
              description: "0% free; scale-outs stop when it is empty."
      - eval_time: 4m
        alertname: VmscaleIpPoolLow
        exp_alerts: []
      - eval_time: 4m
        alertname: VmscaleDeadLetters
        exp_alerts:
          - exp_labels: {{severity: warning, subject: cmd.vm.clone}}
            exp_annotations:
              summary: "2 dead letter(s) of cmd.vm.clone wait for an operator"
              description: "List, replay or discard them: vmscale dead-letters list (or the UI's dead-letter screen)."
      - eval_time: 12m
        alertname: VmscaleGroupAtMaxUnderLoad
        exp_alerts:
          - exp_labels: {{severity: warning, group: web}}
            exp_annotations:
              summary: "Group web is at its maximum size while its high-usage condition holds"
              description: "Raise max_size or add capacity elsewhere; vmscale cannot scale further."
      - eval_time: 5m
        alertname: VmscaleGroupAtMaxUnderLoad
        exp_alerts: []
"""


def test_promtools_rule_tests_show_each_alert_firing_when_it_should_and_not_before(tmp_path: Path) -> None:
    tests = tmp_path / "vmscale-alerts.test.yml"
    tests.write_text(RULE_TESTS.format(rules=json.dumps(str(RULES_FILE)), job=SCRAPE_JOB))
    run = promtool("test", "rules", str(tests))
    assert run.returncode == 0, run.stdout + run.stderr


def test_the_dashboard_is_bound_to_the_given_data_source() -> None:
    model = dashboard("lab-prometheus")
    assert model["uid"] == DASHBOARD_UID and model["title"] == "vmscale"
    text = json.dumps(model)
    assert "${datasource}" not in text
    assert all(panel["datasource"]["uid"] == "lab-prometheus" for panel in model["panels"])
    assert [v["name"] for v in model["templating"]["list"]] == ["group"]
    ids = [panel["id"] for panel in model["panels"]]
    assert len(ids) == len(set(ids))


def test_scrape_targets_label_each_service_with_the_job_the_rules_expect() -> None:
    groups = scrape_targets({"scaler": "127.0.0.1:9413", "gateway": "127.0.0.1:6010"})
    assert groups == [
        {"targets": ["127.0.0.1:6010"], "labels": {"job": SCRAPE_JOB, "service": "gateway"}},
        {"targets": ["127.0.0.1:9413"], "labels": {"job": SCRAPE_JOB, "service": "scaler"}},
    ]

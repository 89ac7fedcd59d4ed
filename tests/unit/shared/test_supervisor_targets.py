"""``vmscale run all`` lists every service's /metrics for Prometheus (``SCRAPE_TARGETS_FILE``)."""

from __future__ import annotations

import json
from pathlib import Path

from cli.supervisor import Child, Supervisor
from shared.observability import SCRAPE_JOB


def supervisor(tmp_path: Path, env: dict[str, str], ports: dict[str, str | None]) -> Supervisor:
    sup = Supervisor(state_dir=tmp_path, env=env, gateway_port=6123)
    for name, port in ports.items():
        child_env = {"METRICS_PORT": port} if port is not None else {}
        sup.children.append(Child(name=name, argv=[], env=child_env, log=tmp_path / f"{name}.log"))
    return sup


def test_each_service_is_a_target_labelled_with_its_service_and_the_rules_job(tmp_path: Path) -> None:
    path = tmp_path / "prometheus" / "self_sd" / "vmscale.json"
    sup = supervisor(
        tmp_path, {"SCRAPE_TARGETS_FILE": str(path)}, {"gateway": "0", "scaler": "19413", "inventory": None}
    )
    sup.write_targets()
    groups = json.loads(path.read_text())
    assert groups == [
        {"targets": ["127.0.0.1:6123"], "labels": {"job": SCRAPE_JOB, "service": "gateway"}},
        {"targets": ["127.0.0.1:9411"], "labels": {"job": SCRAPE_JOB, "service": "inventory"}},  # its default
        {"targets": ["127.0.0.1:19413"], "labels": {"job": SCRAPE_JOB, "service": "scaler"}},
    ]
    assert not list(path.parent.glob("*.tmp"))


def test_nothing_is_written_without_the_setting(tmp_path: Path) -> None:
    supervisor(tmp_path, {}, {"scaler": "19413"}).write_targets()
    assert not list(tmp_path.rglob("*.json"))

"""file_sd documents: instance is the bare IP, labels are whitelisted (lesson 20)."""

from __future__ import annotations

import json

import pytest

from services.monitoring.domain import Target, check_job, dashboard_uid, parse_job_file, render_job_file
from shared.errors import Conflict, InvalidInput


def test_a_target_group_carries_job_instance_ip_and_the_whitelisted_labels() -> None:
    target = Target.build("web", "127.0.10.5", 9100, {"environment": "prod"}, vm_name="web-01")
    (group,) = json.loads(render_job_file([target]))
    assert group == {
        "targets": ["127.0.10.5:9100"],
        "labels": {"job": "web", "instance": "127.0.10.5", "environment": "prod", "service": "web", "vmName": "web-01"},
    }


@pytest.mark.parametrize("label", ["_sshKey", "_sshUser", "__address__", "job", "instance", "team"])
def test_labels_outside_the_whitelist_are_refused(label: str) -> None:
    with pytest.raises(InvalidInput):
        Target.build("web", "127.0.10.5", 9100, {label: "x"})


@pytest.mark.parametrize("address", ["web-01", "127.0.10", "", "127.0.0.1:9100"])
def test_a_target_address_must_be_an_ip(address: str) -> None:
    with pytest.raises(InvalidInput):
        Target.build("web", address, 9100, {})


def test_render_then_parse_gives_the_same_targets() -> None:
    targets = [Target.build("web", f"127.0.10.{n}", 9100, {"group": "web"}, vm_name=f"vm-{n}") for n in (12, 3, 7)]
    assert sorted(parse_job_file("web", render_job_file(targets)), key=lambda t: t.key) == sorted(
        targets, key=lambda t: t.key
    )


@pytest.mark.parametrize("job", ["prometheus", "alertmanager", "loki", "Prometheus"])
def test_system_jobs_are_protected(job: str) -> None:
    with pytest.raises(Conflict):
        check_job(job)


def test_dashboard_uids_are_sanitised_and_bounded() -> None:
    assert dashboard_uid("Web_Job:1") == "dashboard-web-job-1"
    assert len(dashboard_uid("x" * 100)) == 40

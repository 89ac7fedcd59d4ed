"""vmscale's Alertmanager routes: exact names, operator config untouched, no secret in URLs."""

from __future__ import annotations

import copy

import pytest

from services.monitoring.domain import (
    RouteOptions,
    apply_group_routes,
    managed_routes,
    remove_group_routes,
    webhook_url,
)
from shared.errors import InvalidInput

OPTIONS = RouteOptions(credentials_file="/etc/am/token", group_wait="1s", group_interval="1s")
URL = "http://127.0.0.1:8000/api/webhook/autoscale/web"
OPERATOR = {
    "global": {"resolve_timeout": "5m"},
    "route": {
        "receiver": "ops",
        "group_by": ["alertname"],
        "repeat_interval": "12h",
        "routes": [{"receiver": "ops-pager", "matchers": ['severity="critical"']}],
    },
    "receivers": [{"name": "ops"}, {"name": "ops-pager"}],
    "inhibit_rules": [
        {"source_matchers": ['severity="critical"'], "target_matchers": ['severity="warning"'], "equal": ["service"]}
    ],
}


def test_two_routes_go_on_top_scale_out_first_with_exact_matchers() -> None:
    config = apply_group_routes(OPERATOR, "web", URL, 300, OPTIONS)
    first, second, operator = config["route"]["routes"]
    assert first["receiver"] == "jenkins-webhook-web-out"
    assert first["matchers"] == ['service="web"', 'alertname="web_HighResourceUsage"']
    assert second["receiver"] == "jenkins-webhook-web-in"
    assert second["matchers"] == ['service="web"', 'alertname="web_LowResourceUsage"']
    assert first["continue"] is False and first["repeat_interval"] == "300s"
    assert operator == OPERATOR["route"]["routes"][0]


def test_receivers_post_to_the_webhook_with_a_bearer_credentials_file_and_no_resolved() -> None:
    config = apply_group_routes(OPERATOR, "web", URL, 300, OPTIONS)
    receiver = next(r for r in config["receivers"] if r["name"] == "jenkins-webhook-web-out")
    (hook,) = receiver["webhook_configs"]
    assert hook == {
        "url": URL,
        "send_resolved": False,
        "http_config": {"authorization": {"type": "Bearer", "credentials_file": "/etc/am/token"}},
    }


def test_the_operators_config_is_left_as_it_was() -> None:
    before = copy.deepcopy(OPERATOR)
    config = apply_group_routes(OPERATOR, "web", URL, 300, OPTIONS)
    assert OPERATOR == before
    assert config["global"] == OPERATOR["global"] and config["inhibit_rules"] == OPERATOR["inhibit_rules"]
    assert config["route"]["repeat_interval"] == "12h"
    assert remove_group_routes(config, "web", OPTIONS) == OPERATOR


def test_provisioning_twice_changes_nothing() -> None:
    once = apply_group_routes(OPERATOR, "web", URL, 300, OPTIONS)
    assert apply_group_routes(once, "web", URL, 300, OPTIONS) == once


def test_removing_web_keeps_web_2() -> None:
    config = apply_group_routes(OPERATOR, "web-2", URL + "-2", 300, OPTIONS)
    config = apply_group_routes(config, "web", URL, 300, OPTIONS)
    config = remove_group_routes(config, "web", OPTIONS)
    assert [r["group"] for r in managed_routes(config, OPTIONS)] == ["web-2", "web-2"]
    assert {r["name"] for r in config["receivers"]} >= {"jenkins-webhook-web-2-out", "jenkins-webhook-web-2-in"}


def test_a_file_without_a_route_gets_the_originals_default_root() -> None:
    config = apply_group_routes({}, "web", URL, 300, OPTIONS)
    assert config["route"]["group_by"] == ["alertname", "cluster", "service"]
    assert config["route"]["receiver"] in {r["name"] for r in config["receivers"]}


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("http://gw:8000", "http://gw:8000/api/webhook/autoscale/web"),
        ("http://gw:8000/", "http://gw:8000/api/webhook/autoscale/web"),
        ("https://gw/base", "https://gw/base/api/webhook/autoscale/web"),
        ("http://gw:8000/api/webhook/autoscale/web", "http://gw:8000/api/webhook/autoscale/web"),
    ],
    ids=["base", "base-slash", "prefix", "full"],
)
def test_webhook_url_accepts_a_base_or_the_full_url(given: str, expected: str) -> None:
    assert webhook_url(given, "web") == expected


@pytest.mark.parametrize(
    "url",
    ["http://user:pw@gw/", "http://gw/?token=abc", "http://gw/#x", "ftp://gw/", "gw:8000"],
    ids=["userinfo", "query", "fragment", "scheme", "no-scheme"],
)
def test_credentials_never_ride_in_the_webhook_url(url: str) -> None:
    with pytest.raises(InvalidInput):
        webhook_url(url, "web")

"""Enabling a group takes over the original's receivers of that service, whatever their case.

The original's backend wrote ``jenkins-webhook-<serviceName>-out|in`` with the service name as it
was (docs/original-system.md §7.2), without credentials; vmscale's receivers are lower-cased. Both
must go, or the original's unauthenticated receiver stays beside vmscale's.
"""

from __future__ import annotations

from services.monitoring.domain import RouteOptions, apply_group_routes, remove_group_routes

OPTIONS = RouteOptions(credentials_file="/etc/am/token", group_wait="1s", group_interval="1s")
GROUP = "auto-vm-test-AutoScaling"
ORIGINAL = {
    "route": {
        "receiver": "default-webhook",
        "routes": [
            {
                "match": {"service": GROUP, "alertname": f"{GROUP}_HighResourceUsage"},
                "receiver": f"jenkins-webhook-{GROUP}-out",
            },
            {
                "match": {"service": GROUP, "alertname": f"{GROUP}_LowResourceUsage"},
                "receiver": f"jenkins-webhook-{GROUP}-in",
            },
            {"match": {"service": "other"}, "receiver": "jenkins-webhook-other-out"},
        ],
    },
    "receivers": [
        {"name": "default-webhook"},
        {
            "name": f"jenkins-webhook-{GROUP}-out",
            "webhook_configs": [{"url": "http://127.0.0.1:6010/x", "http_config": {}}],
        },
        {
            "name": f"jenkins-webhook-{GROUP}-in",
            "webhook_configs": [{"url": "http://127.0.0.1:6010/x", "http_config": {}}],
        },
        {"name": "jenkins-webhook-other-out"},
    ],
}


def test_the_original_mixed_case_receivers_are_replaced_by_vmscale_ones_with_the_token() -> None:
    config = apply_group_routes(ORIGINAL, GROUP, "http://127.0.0.1:6010", 300, OPTIONS)
    names = [r["name"] for r in config["receivers"]]
    assert names == [
        "default-webhook",
        "jenkins-webhook-other-out",
        "jenkins-webhook-auto-vm-test-autoscaling-out",
        "jenkins-webhook-auto-vm-test-autoscaling-in",
    ]
    assert all(
        r["webhook_configs"][0]["http_config"]["authorization"]["credentials_file"] == "/etc/am/token"
        for r in config["receivers"]
        if r["name"].startswith("jenkins-webhook-auto")
    )
    assert [r["receiver"] for r in config["route"]["routes"]] == [
        "jenkins-webhook-auto-vm-test-autoscaling-out",
        "jenkins-webhook-auto-vm-test-autoscaling-in",
        "jenkins-webhook-other-out",
    ]


def test_removing_the_group_removes_the_original_receivers_too() -> None:
    config = remove_group_routes(ORIGINAL, GROUP, OPTIONS)
    assert [r["name"] for r in config["receivers"]] == ["default-webhook", "jenkins-webhook-other-out"]
    assert [r["receiver"] for r in config["route"]["routes"]] == ["jenkins-webhook-other-out"]

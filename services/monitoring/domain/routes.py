"""vmscale's own routes and receivers inside Alertmanager's configuration.

Per scaling group, two child routes at the top of the root route (scale-out first, ``continue:
false``) matching ``service`` and the exact alert name with ``matchers`` syntax, and two
receivers named exactly from a template (``jenkins-webhook-<svc>-out|in`` by default) that post
to the gateway's ``/api/webhook/autoscale/<svc>`` with ``send_resolved: false`` and a bearer
token read by Alertmanager from ``credentials_file`` — never in the URL. Everything else in the
file (the operator's routes, receivers, inhibit rules, globals) is left exactly as it was;
removal matches receiver names exactly (lesson 16).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from services.monitoring.domain.names import alert_names, check_group, receiver_name
from shared.errors import InvalidInput

__all__ = [
    "DEFAULT_ROOT_ROUTE",
    "RouteOptions",
    "apply_group_routes",
    "managed_routes",
    "remove_group_routes",
    "webhook_url",
]

DEFAULT_ROOT_ROUTE: dict[str, Any] = {
    "receiver": "default-webhook",
    "group_by": ["alertname", "cluster", "service"],
    "group_wait": "10s",
    "group_interval": "10s",
    "repeat_interval": "5m",
    "routes": [],
}
"""The root route the original created when the file had none (with a do-nothing receiver)."""

WEBHOOK_PATH = "/api/webhook/autoscale/"


@dataclass(frozen=True)
class RouteOptions:
    """Deployment-wide options of the rendered routes."""

    receiver_template: str = "jenkins-webhook-{service}-{direction}"
    credentials_file: str = "/etc/alertmanager/vmscale-webhook-token"
    group_wait: str = "10s"
    group_interval: str = "10s"
    ca_file: str = ""


def webhook_url(base_or_full: str, group: str) -> str:
    """The gateway webhook URL of ``group``.

    ``base_or_full`` is either the gateway's base URL or already the full
    ``.../api/webhook/autoscale/<group>`` URL. Raises ``InvalidInput`` for a URL that is not
    http(s), carries credentials, a query or a fragment (secrets never ride in URLs).
    """
    parts = urlsplit(base_or_full)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput("the webhook URL must be http(s)://host[:port][/path]")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise InvalidInput("the webhook URL must not carry credentials, a query or a fragment")
    suffix = WEBHOOK_PATH + quote(group, safe="")
    path = parts.path.rstrip("/")
    if not path.endswith(suffix):
        path += suffix
    return f"{parts.scheme}://{parts.netloc}{path}"


def _names(group: str, options: RouteOptions) -> tuple[str, str]:
    return (
        receiver_name(options.receiver_template, group, "out"),
        receiver_name(options.receiver_template, group, "in"),
    )


def _taken_over(group: str, options: RouteOptions) -> set[str]:
    """Our two names, and the original's for the same service: its backend wrote the service
    name as it was (upper case kept), so a mixed-case group's old receivers are replaced too."""
    exact = {options.receiver_template.format(service=group, direction=d) for d in ("out", "in")}
    return set(_names(group, options)) | exact


def _without(config: dict[str, Any], names: set[str]) -> dict[str, Any]:
    result = copy.deepcopy(config)
    route = result.get("route")
    if isinstance(route, dict):
        kept = [r for r in route.get("routes") or [] if r.get("receiver") not in names]
        if kept:
            route["routes"] = kept
        else:
            route.pop("routes", None)
    result["receivers"] = [r for r in result.get("receivers") or [] if r.get("name") not in names]
    return result


def _http_config(options: RouteOptions) -> dict[str, Any]:
    config: dict[str, Any] = {"authorization": {"type": "Bearer", "credentials_file": options.credentials_file}}
    if options.ca_file:
        config["tls_config"] = {"ca_file": options.ca_file}
    return config


def apply_group_routes(
    config: dict[str, Any], group: str, url: str, repeat_interval_s: int, options: RouteOptions
) -> dict[str, Any]:
    """A copy of ``config`` with the group's two routes and receivers (re)placed on top."""
    check_group(group)
    out_name, in_name = _names(group, options)
    result = _without(config, _taken_over(group, options))
    if not isinstance(result.get("route"), dict):
        result["route"] = copy.deepcopy(DEFAULT_ROOT_ROUTE)
        if not any(r.get("name") == "default-webhook" for r in result["receivers"]):
            result["receivers"].append({"name": "default-webhook"})
    high, low = alert_names(group)
    routes = [
        {
            "receiver": name,
            "matchers": [f'service="{group}"', f'alertname="{alert}"'],
            "group_by": ["alertname", "service"],
            "group_wait": options.group_wait,
            "group_interval": options.group_interval,
            "repeat_interval": f"{repeat_interval_s}s",
            "continue": False,
        }
        for name, alert in ((out_name, high), (in_name, low))
    ]
    result["route"]["routes"] = routes + list(result["route"].get("routes") or [])
    receivers = [
        {
            "name": name,
            "webhook_configs": [
                {
                    "url": url,
                    "send_resolved": False,
                    "http_config": _http_config(options),
                }
            ],
        }
        for name in (out_name, in_name)
    ]
    result["receivers"] = list(result["receivers"]) + receivers
    return result


def remove_group_routes(config: dict[str, Any], group: str, options: RouteOptions) -> dict[str, Any]:
    """A copy of ``config`` without the group's routes and receivers (exact names only)."""
    check_group(group)
    return _without(config, _taken_over(group, options))


def managed_routes(config: dict[str, Any], options: RouteOptions) -> list[dict[str, Any]]:
    """vmscale's routes in ``config``: ``{group, receiver, direction, matchers, url}`` each."""
    receivers = {r.get("name"): r for r in config.get("receivers") or []}
    out: list[dict[str, Any]] = []
    for route in (config.get("route") or {}).get("routes") or []:
        matchers = [str(m) for m in route.get("matchers") or []]
        service = next((m.split("=", 1)[1].strip('"') for m in matchers if m.startswith("service=")), None)
        if service is None:
            continue
        for direction in ("out", "in"):
            if route.get("receiver") == receiver_name(options.receiver_template, service, direction):
                hooks = receivers.get(route["receiver"], {}).get("webhook_configs") or [{}]
                out.append(
                    {
                        "group": service,
                        "receiver": route["receiver"],
                        "direction": direction,
                        "matchers": matchers,
                        "url": hooks[0].get("url", ""),
                    }
                )
    return out

"""Every route x every role: anonymous 401, too low 403, enough never 401/403."""

from __future__ import annotations

import httpx
import pytest

from services.gateway.auth.model import ApiKeyCreate, Principal, Role
from tests.integration.gateway.gateway_support import Gateway

PUBLIC, WEBHOOK = "public", "webhook"
VW, OP, AD = Role.VIEWER, Role.OPERATOR, Role.ADMIN

# The least role each route needs. A route missing here fails the completeness test below.
MATRIX: dict[tuple[str, str], Role | str] = {
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/health"): PUBLIC,
    ("GET", "/readyz"): PUBLIC,
    ("GET", "/api/asyncapi.json"): PUBLIC,
    ("POST", "/api/webhook/autoscale/{group}"): WEBHOOK,
    ("POST", "/api/webhook/jenkins/vm-created"): WEBHOOK,
    ("POST", "/api/webhook/jenkins/vm-deleted"): WEBHOOK,
    ("POST", "/api/v1/auth/login"): PUBLIC,
    ("POST", "/api/v1/auth/logout"): VW,
    ("GET", "/api/v1/auth/me"): VW,
    ("GET", "/api/v1/users"): AD,
    ("POST", "/api/v1/users"): AD,
    ("PATCH", "/api/v1/users/{user_id}"): AD,
    ("DELETE", "/api/v1/users/{user_id}"): AD,
    ("GET", "/api/v1/api-keys"): AD,
    ("POST", "/api/v1/api-keys"): AD,
    ("POST", "/api/v1/api-keys/{key_id}/revoke"): AD,
    ("GET", "/api/v1/audit"): OP,
    ("GET", "/api/v1/groups"): VW,
    ("POST", "/api/v1/groups"): AD,
    ("GET", "/api/v1/groups/{name}"): VW,
    ("PUT", "/api/v1/groups/{name}"): AD,
    ("DELETE", "/api/v1/groups/{name}"): AD,
    ("POST", "/api/v1/groups/{name}/enable"): OP,
    ("POST", "/api/v1/groups/{name}/disable"): OP,
    ("POST", "/api/v1/groups/{name}/scale"): OP,
    ("POST", "/api/v1/groups/{name}/suspend"): OP,
    ("POST", "/api/v1/groups/{name}/resume"): OP,
    ("GET", "/api/v1/groups/{name}/instances"): VW,
    ("GET", "/api/v1/groups/{name}/size-history"): VW,
    ("POST", "/api/v1/groups/{name}/instances/{vm}/protect"): OP,
    ("POST", "/api/v1/groups/{name}/instances/{vm}/unprotect"): OP,
    ("GET", "/api/v1/export/groups"): VW,
    ("POST", "/api/v1/import/groups"): AD,
    ("GET", "/api/autoscaling/configs"): VW,
    ("POST", "/api/autoscaling/configs"): AD,
    ("GET", "/api/autoscaling/configs/{name}"): VW,
    ("PUT", "/api/autoscaling/configs/{name}"): AD,
    ("DELETE", "/api/autoscaling/configs/{name}"): AD,
    ("POST", "/api/autoscaling/configs/{name}/enable"): OP,
    ("POST", "/api/autoscaling/configs/{name}/disable"): OP,
    ("GET", "/api/v1/activities"): VW,
    ("GET", "/api/v1/activities/{activity_id}"): VW,
    ("POST", "/api/v1/activities/{activity_id}/cancel"): OP,
    ("GET", "/api/v1/decisions"): VW,
    ("GET", "/api/v1/ip-pools"): VW,
    ("PUT", "/api/v1/ip-pools/{name}"): AD,
    ("DELETE", "/api/v1/ip-pools/{name}"): AD,
    ("GET", "/api/v1/vms"): VW,
    ("GET", "/api/v1/vms/{name}"): VW,
    ("GET", "/api/v1/templates"): VW,
    ("POST", "/api/v1/templates"): OP,
    ("GET", "/api/v1/templates/{name}"): VW,
    ("DELETE", "/api/v1/templates/{name}"): AD,
    ("GET", "/api/v1/networks"): VW,
    ("GET", "/api/v1/datastores"): VW,
    ("GET", "/api/v1/compute"): VW,
    ("GET", "/api/v1/folders"): VW,
    ("GET", "/api/v1/lb/pools"): VW,
    ("GET", "/api/v1/lb/virtual-servers"): VW,
    ("GET", "/api/v1/lb/pools/{pool}/members"): VW,
    ("GET", "/api/vms"): VW,
    ("GET", "/api/templates/vms"): VW,
    ("GET", "/api/templates"): VW,
    ("POST", "/api/templates"): OP,
    ("GET", "/api/templates/{name}"): VW,
    ("DELETE", "/api/templates/{name}"): AD,
    ("GET", "/api/networks"): VW,
    ("GET", "/api/f5/pools"): VW,
    ("GET", "/api/f5/vips"): VW,
    ("POST", "/api/v1/agents"): OP,
    ("GET", "/api/v1/prometheus/jobs"): VW,
    ("GET", "/api/v1/prometheus/targets"): VW,
    ("DELETE", "/api/v1/prometheus/jobs/{job}"): AD,
    ("POST", "/api/v1/prometheus/jobs/{job}/targets"): OP,
    ("POST", "/api/v1/groups/validate"): OP,
    ("POST", "/api/v1/groups/{name}/instances/{vm}/detach"): AD,
    ("POST", "/api/v1/groups/{name}/dry-run"): VW,
    ("GET", "/api/v1/groups/{name}/health"): VW,
    ("GET", "/api/v1/scaling-processes"): VW,
    ("POST", "/api/v1/schedules/next-runs"): VW,
    ("DELETE", "/api/v1/prometheus/jobs/{job}/targets/{vm_name}"): OP,
    ("GET", "/api/v1/prometheus/rules"): VW,
    ("GET", "/api/v1/prometheus/usage"): VW,
    ("GET", "/api/v1/alertmanager/routes"): VW,
    ("GET", "/api/v1/alertmanager/silences"): VW,
    ("GET", "/api/v1/alerts"): VW,
    ("GET", "/api/prometheus/jobs"): VW,
    ("GET", "/api/prometheus/targets"): VW,
    ("GET", "/api/alertmanager/routing-rules"): VW,
    ("GET", "/api/alerts"): VW,
    ("GET", "/api/v1/events"): VW,
    ("GET", "/api/v1/events/stream"): VW,
    ("GET", "/api/v1/system/status"): VW,
    ("GET", "/api/v1/dead-letters"): VW,
    ("GET", "/api/v1/dead-letters/{seq}"): VW,
    ("POST", "/api/v1/dead-letters/{seq}/replay"): OP,
    ("DELETE", "/api/v1/dead-letters/{seq}"): AD,
    ("POST", "/api/v1/dead-letters/bulk/replay"): OP,
    ("POST", "/api/v1/dead-letters/bulk/discard"): AD,
    ("GET", "/api/v1/notifications/channels"): VW,
    ("GET", "/api/v1/notifications/deliveries"): VW,
    ("POST", "/api/v1/notifications/test"): AD,
    ("GET", "/api/v1/log-level"): AD,
    ("PUT", "/api/v1/log-level"): AD,
}

PARAMS = {
    "{group}": "web",
    "{name}": "web",
    "{user_id}": "9999",
    "{key_id}": "9999",
    "{activity_id}": "act-x",
    "{vm}": "web-01",
    "{pool}": "web-pool",
    "{job}": "web",
    "{seq}": "9999",
}
STREAM = ("GET", "/api/v1/events/stream")


def concrete(path: str) -> str:
    for key, value in PARAMS.items():
        path = path.replace(key, value)
    return path


async def call(gateway: Gateway, method: str, path: str, headers: dict[str, str]) -> int:
    body = {"json": {}} if method in ("POST", "PUT", "PATCH") else {}
    if (method, path) == STREAM:
        async with gateway.served() as base, httpx.AsyncClient(base_url=base, timeout=5) as http:
            async with http.stream(method, path, headers=headers) as response:
                return response.status_code
    response = await gateway.client.request(method, concrete(path), headers=headers, **body)
    return response.status_code


def test_every_route_is_in_the_matrix(gateway_app_paths: set[tuple[str, str]]) -> None:
    assert gateway_app_paths == set(MATRIX)


@pytest.fixture
def gateway_app_paths(gateway: Gateway) -> set[tuple[str, str]]:
    schema = gateway.app.openapi()
    return {(method.upper(), path) for path, ops in schema["paths"].items() for method in ops}


async def test_anonymous_callers_get_401_on_every_protected_route(gateway: Gateway) -> None:
    wrong = {}
    for (method, path), need in MATRIX.items():
        if need == PUBLIC:
            continue
        status = await call(gateway, method, path, {})
        if status != 401:
            wrong[(method, path)] = status
    assert wrong == {}


@pytest.mark.parametrize("role", [VW, OP, AD], ids=lambda role: role.value)
async def test_each_role_gets_exactly_the_routes_it_is_allowed(gateway: Gateway, role: Role) -> None:
    creator = Principal(name="admin", role=Role.ADMIN, via="session", user_id=1)
    key = gateway.state.auth.create_key(ApiKeyCreate(name=f"matrix-{role.value}", role=role), creator).key
    headers = {"Authorization": f"Bearer {key}"}
    wrong = {}
    for (method, path), need in MATRIX.items():
        if need in (PUBLIC, WEBHOOK):
            continue
        status = await call(gateway, method, path, headers)
        allowed = role.allows(need)  # type: ignore[arg-type]
        if (allowed and status in (401, 403)) or (not allowed and status != 403):
            wrong[(method, path)] = status
    assert wrong == {}

"""The OpenAPI document: FastAPI's, plus the errors each operation can answer and how to authenticate.

FastAPI documents the success response and a 422 body of its own shape. Every error the gateway
sends is RFC 9457 ``application/problem+json`` from one mapping (``errors.py``), so this adds to
each operation the statuses it can answer, all with the ``Problem`` schema, and the security
schemes it accepts. An operation's own ``responses=`` entries stay; their content type becomes
``application/problem+json`` for error statuses, which is what is actually sent.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from fastapi import FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.gateway.deps import SESSION_COOKIE, current_principal
from services.gateway.errors import PROBLEM_JSON, Problem, problem_response

__all__ = ["ERROR_DESCRIPTIONS", "RATE_LIMITED", "allowed_methods", "document", "error_statuses", "install_openapi"]

ERROR_DESCRIPTIONS = {
    400: "The body cannot be read: not UTF-8, or not the JSON it should be",
    401: "Not authenticated: no session or API key, or an unknown, expired or revoked one",
    403: "Authenticated, but the role does not allow this (or the CSRF token is missing)",
    404: "No such resource",
    409: "Conflicts with the current state",
    413: "The request body is too large",
    422: "The request is invalid; `errors` lists the fields and their messages",
    429: "Too many requests; `Retry-After` says when to try again",
    503: "A dependency (NATS, Redis, the database or a backend system) is unavailable; retry later",
    504: "The owning service did not answer in time",
}
# For a route that calls ``deps.rate_limit``: its 429 is declared with the route.
RATE_LIMITED: dict[int | str, dict[str, Any]] = {429: {"description": ERROR_DESCRIPTIONS[429]}}
# Modules whose routes ask a backend service (or JetStream's API) over the bus, and so can time out.
_BACKEND_MODULES = frozenset(
    f"services.gateway.api.{name}"
    for name in ("groups", "activities", "inventory", "monitoring", "events", "dead_letters")
)
_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
_SECURITY = {
    "apiKey": {"type": "http", "scheme": "bearer", "description": "An API key: `Authorization: Bearer vms_…`"},
    "session": {
        "type": "apiKey",
        "in": "cookie",
        "name": SESSION_COOKIE,
        "description": "The UI's login session; unsafe methods also need the `X-CSRF-Token` header",
    },
}


def _uses(dependant: Dependant, call: Any) -> bool:
    return any(dep.call is call or _uses(dep, call) for dep in dependant.dependencies)


def error_statuses(route: Any) -> set[int]:
    """The error statuses ``route`` can answer (besides those it declares itself)."""
    if not route.path.startswith("/api/"):
        return set()
    statuses = {503}
    dependant = route.dependant
    if _uses(dependant, current_principal):
        statuses |= {401, 403}
    if dependant.path_params:
        statuses.add(404)
    if dependant.path_params or dependant.query_params or dependant.body_params or route.methods & _UNSAFE:
        statuses.add(422)
    if route.methods & _UNSAFE:
        statuses.add(409)
    if dependant.body_params:
        statuses.add(400)
    if route.endpoint.__module__ in _BACKEND_MODULES:
        statuses.add(504)
    return statuses


def _problem_content(response: dict[str, Any]) -> None:
    """Describe an error response as problem+json, unless it declares a body of another kind."""
    content = response.setdefault("content", {})
    schema = content.get("application/json", {}).get("schema") or _PROBLEM_REF
    if schema.get("$ref", "").endswith(("/HTTPValidationError", "/Problem")):
        content.pop("application/json", None)
        content[PROBLEM_JSON] = {"schema": _PROBLEM_REF}


def document(app: FastAPI) -> dict[str, Any]:
    """Build (once) and return the app's OpenAPI document."""
    if app.openapi_schema:
        return app.openapi_schema
    spec = get_openapi(
        title=app.title,
        version=app.version,
        openapi_version=app.openapi_version,
        summary=app.summary,
        description=app.description,
        routes=app.routes,
    )
    components = spec.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(schemas["Problem"].pop("$defs", {}))
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    components["securitySchemes"] = _SECURITY
    for route in iter_route_contexts(app.routes):
        if not (isinstance(route.original_route, APIRoute) and route.include_in_schema):
            continue
        for method in route.methods or ():
            operation = spec["paths"][route.path_format][method.lower()]
            responses = operation.setdefault("responses", {})
            for status in error_statuses(route):
                responses.setdefault(str(status), {"description": ERROR_DESCRIPTIONS[status]})
            for status, response in responses.items():
                if status.isdigit() and int(status) >= 400:
                    _problem_content(response)
                    if response.get("description") == "Validation Error":  # FastAPI's wording
                        response["description"] = ERROR_DESCRIPTIONS[422]
            operation["responses"] = dict(sorted(responses.items()))
            if _uses(route.dependant, current_principal):
                operation["security"] = [{"apiKey": []}, {"session": []}]
    app.openapi_schema = spec
    return spec


@cache
def _path_patterns(app: FastAPI) -> tuple[tuple[re.Pattern[str], int, frozenset[str]], ...]:
    """Each documented path as a regex, with its count of literal segments and its methods."""
    patterns = []
    for path, operations in document(app)["paths"].items():
        regex = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path)) + "$"
        literal = sum(1 for segment in path.split("/") if segment and not segment.startswith("{"))
        patterns.append((re.compile(regex), literal, frozenset(method.upper() for method in operations)))
    return tuple(patterns)


def allowed_methods(app: FastAPI, path: str) -> set[str]:
    """The documented methods of the path ``path`` matches, the most concrete one first.

    As OpenAPI matches: a concrete path (``/groups/validate``) before a templated one
    (``/groups/{name}``); paths as concrete as each other (none here) would all count.
    """
    matches = [(literal, methods) for regex, literal, methods in _path_patterns(app) if regex.match(path)]
    if not matches:
        return set()
    best = max(literal for literal, _ in matches)
    return set().union(*(methods for literal, methods in matches if literal == best))


async def _method_not_allowed(request: Request, exc: Exception) -> JSONResponse:
    """405 with an ``Allow`` header naming the documented methods of the path (Starlette's names
    only the methods of the first route that matched it)."""
    assert isinstance(exc, StarletteHTTPException)
    methods = allowed_methods(request.app, request.url.path)
    allow = ", ".join(sorted(methods)) or dict(exc.headers or {}).get("Allow", "")
    return problem_response(405, "method not allowed", headers={"Allow": allow}, instance=request.url.path)


def install_openapi(app: FastAPI) -> None:
    """Serve the completed document and answer 405s with the right ``Allow`` header."""
    app.openapi = lambda: document(app)  # type: ignore[method-assign]
    app.add_exception_handler(405, _method_not_allowed)

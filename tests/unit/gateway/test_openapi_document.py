"""The OpenAPI document says what the gateway answers, and the parameters hold what it says."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import FastAPI
from pydantic import TypeAdapter, ValidationError

from services.gateway.api.params import Instant
from services.gateway.app import create_app
from services.gateway.openapi import allowed_methods
from services.gateway.settings import GatewaySettings


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    return create_app(GatewaySettings(state_dir=Path(tmp_path_factory.mktemp("openapi"))))


@pytest.mark.parametrize(
    ("path", "methods"),
    [
        # a concrete path wins over the templated one it also matches, as OpenAPI matches them
        ("/api/v1/groups/validate", {"POST"}),
        ("/api/templates/vms", {"GET"}),
        ("/api/v1/groups/web", {"GET", "PUT", "DELETE"}),
        ("/api/v1/nothing/here", set()),
    ],
)
def test_allow_names_the_methods_of_the_most_concrete_documented_path(
    app: FastAPI, path: str, methods: set[str]
) -> None:
    assert allowed_methods(app, path) == methods


def test_rate_limited_routes_and_login_document_their_statuses(app: FastAPI) -> None:
    paths = app.openapi()["paths"]
    login = paths["/api/v1/auth/login"]["post"]["responses"]
    assert {"401", "429"} <= set(login)
    assert "429" in paths["/api/v1/groups/{name}/scale"]["post"]["responses"]
    assert "400" in paths["/api/v1/api-keys"]["post"]["responses"], "an unreadable body is documented"


def test_row_ids_are_bounded_to_the_column(app: FastAPI) -> None:
    (param,) = app.openapi()["paths"]["/api/v1/users/{user_id}"]["patch"]["parameters"]
    assert param["schema"]["minimum"] == 1 and param["schema"]["maximum"] == 2**31 - 1


@pytest.mark.parametrize("value", ["2026-12-04T17:00:00Z", "2026-12-04T17:00:00+09:00", "2026-12-04 17:00:00Z"])
def test_an_instant_is_rfc3339_with_a_zone(value: str) -> None:
    assert TypeAdapter(Instant).validate_python(value).tzinfo is not None


@pytest.mark.parametrize("value", ["0.5", "1733331600", "2026-12-04T17:00:00", "yesterday"])
def test_anything_else_is_refused(value: str) -> None:
    with pytest.raises(ValidationError):
        TypeAdapter(Instant).validate_python(value)

"""schemathesis against the gateway's OpenAPI document: no 5xx, every response matches its schema.

The gateway runs over real HTTP on a loopback port, on real NATS, Redis and PostgreSQL, in a
thread of its own (schemathesis' tests are synchronous), with the stand-in backends answering
every query it sends. Each case authenticates with a fresh admin API key, so a generated
request that revokes a key or changes a user cannot lock the rest of the run out.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import hypothesis
import pytest
import schemathesis
from schemathesis.specs.openapi.checks import positive_data_acceptance

from services.gateway.app import create_app
from services.gateway.auth.model import ApiKeyCreate, Principal, Role
from services.gateway.settings import GatewaySettings
from tests.integration.gateway.gateway_support import GatewayThread

# The keys' maker belongs to no user: a generated DELETE /users/1 removes the first admin (and
# its keys with it), and must not take the next case's key along.
MAKER = Principal(name="fuzz", role=Role.ADMIN, via="cli")


@pytest.fixture(scope="module")
def running(
    nats_url: str, redis_url: str, postgres_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayThread]:
    with GatewayThread.start(nats_url, redis_url, postgres_url, tmp_path_factory.mktemp("fuzz")) as thread:
        yield thread


# The document as the app builds it (no connection is made before the app starts); the served
# one is checked to be the same below.
DOCUMENT = create_app(GatewaySettings(state_dir=Path(tempfile.gettempdir()))).openapi()
schema = schemathesis.openapi.from_dict(DOCUMENT)
# Each case sends its own admin key (below): generated Authorization headers would be replaced,
# and a "wrong credentials accepted" case would be our replacement, not the gateway. Who may do
# what is the authorisation matrix's test (test_authz_matrix.py).
schema.config.generation.update(with_security_parameters=False)


def test_the_served_document_is_the_one_fuzzed(running: GatewayThread) -> None:
    assert httpx.get(f"{running.url}/api/openapi.json").json() == DOCUMENT


# Every built-in check runs but one: positive_data_acceptance (a schema-valid request must get a
# 2xx). A group's settings have rules across fields that JSON Schema does not say (min ≤ max,
# thresholds that order, a template and a pool that exist, one of desired and delta), and the
# answer to breaking them is a 422 that names each field: by design, not a failure. The
# converse check, that a request breaking the schema is refused, runs.
EXCLUDED = [positive_data_acceptance]


# The SSE stream never ends by itself; it has its own tests (test_api.py).
@schema.exclude(method="GET", path="/api/v1/events/stream").parametrize()
@hypothesis.settings(max_examples=20, deadline=None, suppress_health_check=list(hypothesis.HealthCheck))
def test_the_api_answers_every_generated_request_within_its_schema(case: Any, running: GatewayThread) -> None:
    auth = running.app.state.gateway.auth
    key = auth.create_key(ApiKeyCreate(name=f"fuzz-{uuid.uuid4().hex[:12]}", role=Role.ADMIN), MAKER).key
    case.call_and_validate(base_url=running.url, headers={"Authorization": f"Bearer {key}"}, excluded_checks=EXCLUDED)

"""Adapters without a network: hooks contract on the fake, Prometheus over recorded JSON."""

from __future__ import annotations

import json

import httpx
import pytest

from services.scaler.adapters.hooks import HookRunner, HttpHook
from services.scaler.adapters.prometheus import PrometheusMetrics, cpu_query
from services.scaler.domain import HookSpec, TargetTrackingPolicy
from shared.errors import ConfigurationError, ServiceUnavailable
from testkit.scaler.memory import MemoryHooks
from tests.contracts.scaler_hooks import LifecycleHookContract
from tests.unit.scaler.scaler_factories import group


class TestMemoryHooks(LifecycleHookContract):
    @pytest.fixture
    def hook(self) -> MemoryHooks:
        self.fake = MemoryHooks()
        return self.fake

    def spec(self, name: str) -> HookSpec:
        return HookSpec(kind="jenkins", target=name)

    async def make_fail(self, name: str) -> None:
        self.fake.failing.add(name)


def vector(value: str) -> dict:
    return {"status": "success", "data": {"resultType": "vector", "result": [{"metric": {}, "value": [1.0, value]}]}}


EMPTY = {"status": "success", "data": {"resultType": "vector", "result": []}}
TARGETS = {
    "status": "success",
    "data": {
        "activeTargets": [
            {"scrapePool": "web", "labels": {"job": "web"}, "health": "up"},
            {"scrapePool": "web", "labels": {"job": "web"}, "health": "down"},
            {"scrapePool": "api", "labels": {"job": "api"}, "health": "up"},
        ]
    },
}


def prometheus(handler) -> PrometheusMetrics:
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return PrometheusMetrics(client, "http://127.0.0.1:9090", rate_window="1m")


async def test_prometheus_reads_the_alert_expressions() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        query = request.url.params["query"]
        seen.append(query)
        if "node_cpu" in query and query.startswith("avg"):
            return httpx.Response(200, json=vector("55"))
        if "node_cpu" in query:
            return httpx.Response(200, json=vector("91.5"))
        return httpx.Response(200, json=EMPTY)

    reading = await prometheus(handler).read(group(), TargetTrackingPolicy(target=50))
    assert reading.available and reading.cpu == 91.5 and reading.memory is None and reading.value == 55
    assert cpu_query("web", "1m") in seen
    assert 'job="web"' in reading.queries["memory"] and reading.queries["cpu"].startswith("max(")


async def test_prometheus_down_or_failing_is_unavailable_not_an_exception() -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    reading = await prometheus(down).read(group())
    assert not reading.available and "unreachable" in (reading.error or "")
    broken = await prometheus(lambda r: httpx.Response(503, text="busy")).read(group())
    assert not broken.available
    with pytest.raises(ServiceUnavailable):
        await prometheus(down).target_count("web")


async def test_prometheus_counts_targets_of_a_job() -> None:
    metrics = prometheus(lambda r: httpx.Response(200, json=TARGETS))
    assert await metrics.target_count("web") == 2
    assert await metrics.job_exists("api") and not await metrics.job_exists("db")


async def test_http_hook_posts_the_context_and_refuses_hosts_not_allowed() -> None:
    bodies: list[dict] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        return httpx.Response(204)

    runner = HookRunner(HttpHook(httpx.AsyncClient(transport=httpx.MockTransport(handler))))
    spec = HookSpec(kind="http", target="http://127.0.0.1:9/hook", parameters={"a": "1"})
    assert await runner.run(spec, {"activity_id": "x"}) == "http 204"
    assert bodies == [{"parameters": {"a": "1"}, "activity_id": "x"}]
    with pytest.raises(ConfigurationError):
        await runner.run(HookSpec(kind="http", target="http://127.0.0.2/hook"), {})
    with pytest.raises(ConfigurationError):
        await runner.run(HookSpec(kind="jenkins", target="job"), {})

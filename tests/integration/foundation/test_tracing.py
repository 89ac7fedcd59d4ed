"""A trace started at a gateway request continues in the service that handled its message."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import APIRouter, Request
from faststream.nats import NatsRouter
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from services.gateway.app import create_app
from services.gateway.settings import GatewaySettings
from services.inventory.settings import InventorySettings
from shared import subjects
from shared.messages import PowerOnVm
from shared.runtime import ServiceRuntime
from shared.telemetry import build_tracer_provider

pytestmark = pytest.mark.usefixtures("js_cleanup")


async def test_a_gateway_request_and_the_resulting_handler_share_one_trace(
    nats_url: str, redis_url: str, prefix: str, tmp_path
) -> None:
    exporter = InMemorySpanExporter()
    common = {"nats_url": nats_url, "redis_url": redis_url, "subject_prefix": prefix, "state_dir": tmp_path}

    gateway_runtime = ServiceRuntime(
        "gateway", GatewaySettings(**common), tracer_provider=build_tracer_provider("gateway", exporter)
    )
    app = create_app(gateway_runtime.settings, gateway_runtime)  # type: ignore[arg-type]
    probe = APIRouter()

    @probe.post("/probe/power-on")
    async def power_on(request: Request) -> dict[str, str]:
        await request.app.state.gateway.runtime.bus.publish(
            subjects.CMD_VM_POWER_ON, PowerOnVm(activity_id="a-1", vm_name="web-1")
        )
        return {"status": "sent"}

    app.include_router(probe)

    service = ServiceRuntime(
        "inventory",
        InventorySettings(**common, metrics_port=0),
        tracer_provider=build_tracer_provider("inventory", exporter),
    )
    handled = asyncio.Event()
    router = NatsRouter()

    @service.bus.consumer(router, subjects.CMD_VM_POWER_ON, "inventory")
    async def on_power_on(cmd: PowerOnVm) -> None:
        handled.set()

    service.include(router)
    await service.start()
    await service.bus.broker.start()
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
                response = await client.post("/probe/power-on")
                assert response.status_code == 200
            await asyncio.wait_for(handled.wait(), timeout=10)
            await asyncio.sleep(0.2)
    finally:
        await service.bus.broker.stop()
        await service.stop()

    spans = exporter.get_finished_spans()
    server = [s for s in spans if s.name == "POST /probe/power-on"]
    assert len(server) == 1
    trace_id = server[0].context.trace_id
    by_service = {s.resource.attributes["service.name"] for s in spans if s.context.trace_id == trace_id}
    assert by_service == {"vmscale-gateway", "vmscale-inventory"}
    consumer = [
        s
        for s in spans
        if s.resource.attributes["service.name"] == "vmscale-inventory" and s.context.trace_id == trace_id
    ]
    assert consumer, "the inventory handler's span must belong to the gateway request's trace"

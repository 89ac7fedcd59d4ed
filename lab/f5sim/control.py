"""Test controls of the simulator under ``/_sim/`` (not part of iControl REST).

* ``POST /_sim/failover``                         swap the active and standby units
* ``POST /_sim/faults`` ``{"status": 503, "count": 2, "latency_ms": 0, "device": "any"}``; ``DELETE`` clears
* ``POST /_sim/tokens/expire``                    every token of every unit stops working
* ``GET  /_sim/state``                            per-unit role, request counts and live tokens
* ``PUT  /_sim/pools/<pool>/members/<member>/connections`` ``{"value": N}``
* ``POST /_sim/pools/<pool>/connect`` ``{"persist_to": "<member>"}`` opens one client connection
  the way BIG-IP picks a member: enabled and available members take new connections; a
  *disabled* member still takes one that carries its persistence record; forced offline, none.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from lab.f5sim.model import F5Error

__all__ = ["control_routes"]


def control_routes(sim: Any) -> list[Route]:
    """The ``/_sim`` routes bound to ``sim``."""

    async def body(request: Request) -> dict[str, Any]:
        raw = await request.body()
        return json.loads(raw) if raw else {}

    async def failover(request: Request) -> JSONResponse:
        for device in sim.devices.values():
            device.active = not device.active
        return JSONResponse({d.name: d.active for d in sim.devices.values()})

    async def faults(request: Request) -> JSONResponse:
        from lab.f5sim.app import Fault

        if request.method == "DELETE":
            sim.faults.clear()
        else:
            sim.faults.append(Fault(**await body(request)))
        return JSONResponse({"faults": len(sim.faults)})

    async def expire(request: Request) -> JSONResponse:
        return JSONResponse({"expired": sum(d.tokens.expire_all() for d in sim.devices.values())})

    async def state(request: Request) -> JSONResponse:
        return JSONResponse(
            {
                d.name: {"port": d.port, "active": d.active, "counts": d.counts, "tokens": len(d.tokens.tokens)}
                for d in sim.devices.values()
            }
        )

    async def connections(request: Request) -> JSONResponse:
        try:
            pool = sim.store.pool(request.path_params["pool"])
            member = sim.store.member(pool, request.path_params["member"])
        except F5Error as exc:
            return JSONResponse(exc.body(), status_code=exc.code)
        value = int((await body(request))["value"])
        member.tot_conns += max(0, value - member.cur_conns)
        member.cur_conns = value
        return JSONResponse({"member": member.name, "curConns": member.cur_conns})

    async def connect(request: Request) -> JSONResponse:
        try:
            pool = sim.store.pool(request.path_params["pool"])
        except F5Error as exc:
            return JSONResponse(exc.body(), status_code=exc.code)
        persist = (await body(request)).get("persist_to")

        def available(m: Any) -> bool:
            return m.monitor_state in ("up", "unchecked") and not m.user_down

        candidates = [m for m in pool.members.values() if available(m) and not m.user_disabled]
        sticky = [m for m in pool.members.values() if m.name == persist and available(m)]
        chosen = sticky[0] if sticky else min(candidates, key=lambda m: m.cur_conns, default=None)
        if chosen is None:
            return JSONResponse({"member": None}, status_code=503)
        chosen.cur_conns += 1
        chosen.tot_conns += 1
        return JSONResponse({"member": chosen.name})

    return [
        Route("/_sim/failover", failover, methods=["POST"]),
        Route("/_sim/faults", faults, methods=["POST", "DELETE"]),
        Route("/_sim/tokens/expire", expire, methods=["POST"]),
        Route("/_sim/state", state, methods=["GET"]),
        Route("/_sim/pools/{pool}/members/{member}/connections", connections, methods=["PUT"]),
        Route("/_sim/pools/{pool}/connect", connect, methods=["POST"]),
    ]

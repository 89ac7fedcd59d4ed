"""The simulator's web application: devices of an HA pair, auth, faults, transactions.

One process serves both units of an active/standby pair (one port each) over one synced
configuration. Each unit has its own tokens and reports its own role at
``/mgmt/tm/cm/failover-status``. Faults (``/_sim/faults``) answer like a restarting or broken
BIG-IP: 503 with the HTML "Configuration Utility restarting..." page, or 500 "The connection to
mcpd has been lost, try again.", and may add latency.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from lab.f5sim.auth import TokenStore
from lab.f5sim.model import F5Error, Store
from lab.f5sim.monitor import run_monitors
from lab.f5sim.rest import dispatch

__all__ = ["Device", "Fault", "Simulator", "create_app"]

RESTARTING_HTML = "<html><body><h1>Configuration Utility restarting...</h1></body></html>"
MCPD_LOST = "The connection to mcpd has been lost, try again."
MUTATING = {"POST", "PUT", "PATCH", "DELETE"}


@dataclass
class Device:
    """One BIG-IP unit."""

    name: str
    port: int
    active: bool
    tokens: TokenStore
    counts: dict[str, int] = field(default_factory=lambda: {"reads": 0, "writes": 0, "logins": 0})


@dataclass
class Fault:
    """Answer the next ``count`` matching requests with ``status`` after ``latency_ms``."""

    status: int = 0
    count: int = 1
    latency_ms: int = 0
    device: str = "any"
    path_prefix: str = "/mgmt/tm"


@dataclass
class Transaction:
    """A REST transaction: commands queued until committed."""

    trans_id: int
    created: float
    timeout_s: int = 120
    state: str = "STARTED"
    commands: list[dict[str, Any]] = field(default_factory=list)

    def render(self) -> dict[str, Any]:
        """As ``GET /mgmt/tm/transaction/<id>`` shows it."""
        return {
            "transId": self.trans_id,
            "state": self.state,
            "timeoutSeconds": self.timeout_s,
            "asyncExecution": False,
            "validateOnly": False,
            "executionTimeout": 300,
            "executionTime": 0,
            "failureReason": "",
            "kind": "tm:transactionstate",
            "selfLink": f"https://localhost/mgmt/tm/transaction/{self.trans_id}?ver=15.1.0",
        }


class Simulator:
    """State shared by the units: configuration, transactions, faults."""

    def __init__(self, devices: list[Device], store: Store | None = None, monitor_interval: float = 5.0) -> None:
        self.devices = {device.port: device for device in devices}
        self.store = store or Store()
        self.monitor_interval = monitor_interval
        self.transactions: dict[int, Transaction] = {}
        self.faults: list[Fault] = []
        self._next_trans = int(time.time() * 1000)

    def device_for(self, request: Request) -> Device:
        """The unit a request arrived at (by local port; the first unit otherwise)."""
        server = request.scope.get("server") or ("", 0)
        return self.devices.get(int(server[1] or 0)) or next(iter(self.devices.values()))

    async def fault_for(self, device: Device, path: str) -> Response | None:
        """Apply the first matching fault: sleep its latency, maybe answer its status."""
        for fault in self.faults:
            if fault.count <= 0 or not path.startswith(fault.path_prefix):
                continue
            if fault.device not in ("any", device.name, "active" if device.active else "standby"):
                continue
            fault.count -= 1
            if fault.latency_ms:
                await asyncio.sleep(fault.latency_ms / 1000)
            if fault.status == 503:
                return HTMLResponse(RESTARTING_HTML, status_code=503)
            if fault.status:
                body = F5Error(fault.status, MCPD_LOST if fault.status == 500 else "Simulated failure").body()
                body["apiError"] = 32768003 if fault.status == 500 else 1
                return JSONResponse(body, status_code=fault.status)
            return None
        return None

    def transaction(self, trans_id: str) -> Transaction:
        """A live transaction, or 404 (expired ones are dropped silently, as on BIG-IP)."""
        now = time.time()
        for key in [k for k, t in self.transactions.items() if t.state == "STARTED" and now - t.created > t.timeout_s]:
            del self.transactions[key]
        found = self.transactions.get(int(trans_id)) if trans_id.isdigit() else None
        if found is None:
            raise F5Error(404, f"Transaction {trans_id} does not exist.", api_error=1)
        return found

    def commit(self, transaction: Transaction) -> dict[str, Any]:
        """Run the queued commands on a copy; keep the copy only if every command succeeded."""
        if transaction.state != "STARTED":
            raise F5Error(400, f"Transaction {transaction.trans_id} is {transaction.state}.", api_error=1)
        draft = self.store.snapshot()
        for command in transaction.commands:
            try:
                dispatch(draft, command["method"], command["path"], {}, command["body"])
            except F5Error as exc:
                transaction.state = "FAILED"
                raise F5Error(exc.code, f"transaction failed:{exc.message}") from exc
        self.store = draft
        transaction.state = "COMPLETED"
        return transaction.render()


_VALID_ESCAPES = re.compile(r"%(?![0-9A-Fa-f]{2})")


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise F5Error(400, f"Found invalid JSON body in the request: {exc}", api_error=1) from exc
    if not isinstance(value, dict):
        raise F5Error(400, "Found invalid JSON body in the request.", api_error=1)
    return value


def create_app(sim: Simulator) -> Starlette:
    """The ASGI application over ``sim``."""

    async def mgmt(request: Request) -> Response:
        device = sim.device_for(request)
        raw_path = request.scope.get("raw_path", b"").decode("latin-1") or request.url.path
        if _VALID_ESCAPES.search(raw_path):
            return JSONResponse({"code": 400, "message": "Bad Request: invalid percent-escape in URI"}, status_code=400)
        path = unquote(raw_path.split("?", 1)[0])
        faulted = await sim.fault_for(device, path)
        if faulted is not None:
            return faulted
        try:
            return await _serve(request, device, path)
        except F5Error as exc:
            return JSONResponse(exc.body(), status_code=exc.code)

    async def _serve(request: Request, device: Device, path: str) -> Response:
        method = request.method
        body = await _body(request) if method in MUTATING else {}
        if path == "/mgmt/shared/authn/login" and method == "POST":
            device.counts["logins"] += 1
            return JSONResponse(device.tokens.login(body))
        device.tokens.authenticate({k.lower(): v for k, v in request.headers.items()})
        if path.startswith("/mgmt/shared/authz/tokens/"):
            key = path.rsplit("/", 1)[1]
            if method == "GET":
                return JSONResponse(device.tokens.get(key).render())
            if method == "PATCH":
                return JSONResponse(device.tokens.extend(key, body.get("timeout")).render())
            if method == "DELETE":
                device.tokens.delete(key)
                return JSONResponse({})
        if path == "/mgmt/tm/cm/failover-status" and method == "GET":
            return JSONResponse(_failover(device))
        device.counts["writes" if method in MUTATING else "reads"] += 1
        if path.startswith("/mgmt/tm/transaction"):
            return _transaction(request, method, path, body)
        if not path.startswith("/mgmt/tm/"):
            raise F5Error(404, f"Public URI path not registered: {path}", api_error=1)
        tm_path = path.removeprefix("/mgmt/tm/")
        coordination = request.headers.get("x-f5-rest-coordination-id")
        if coordination and method in MUTATING:
            transaction = sim.transaction(coordination)
            transaction.commands.append({"method": method, "path": tm_path, "body": body})
            order = len(transaction.commands)
            return JSONResponse({**body, "transId": transaction.trans_id, "evalOrder": order, "commandId": order})
        status, answer = dispatch(sim.store, method, tm_path, dict(request.query_params), body)
        return JSONResponse(answer, status_code=status)

    def _transaction(request: Request, method: str, path: str, body: dict[str, Any]) -> Response:
        rest = path.removeprefix("/mgmt/tm/transaction").strip("/")
        if not rest and method == "POST":
            sim._next_trans += 1
            transaction = Transaction(sim._next_trans, time.time())
            sim.transactions[transaction.trans_id] = transaction
            return JSONResponse(transaction.render())
        trans_id, _, tail = rest.partition("/")
        transaction = sim.transaction(trans_id)
        if tail == "commands" and method == "GET":
            items = [
                {"method": c["method"], "uri": f"https://localhost/mgmt/tm/{c['path']}", "evalOrder": i + 1}
                for i, c in enumerate(transaction.commands)
            ]
            return JSONResponse({"kind": "tm:transaction:commands:commandscollectionstate", "items": items})
        if method == "GET":
            return JSONResponse(transaction.render())
        if method == "PATCH" and body.get("state") == "VALIDATING":
            if body.get("validateOnly"):
                draft = sim.store
                try:
                    sim.commit(transaction)
                finally:
                    sim.store = draft
                transaction.state = "STARTED"
                return JSONResponse(transaction.render())
            return JSONResponse(sim.commit(transaction))
        if method == "DELETE":
            del sim.transactions[transaction.trans_id]
            return JSONResponse({})
        raise F5Error(400, "Unsupported transaction request.", api_error=1)

    from lab.f5sim.control import control_routes

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        task = asyncio.create_task(run_monitors(sim, sim.monitor_interval))
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    routes = [Route("/mgmt/{rest:path}", mgmt, methods=["GET", "POST", "PUT", "PATCH", "DELETE"])]
    return Starlette(routes=routes + control_routes(sim), lifespan=lifespan)


def _failover(device: Device) -> dict[str, Any]:
    status = "ACTIVE" if device.active else "STANDBY"
    key = "https://localhost/mgmt/tm/cm/failover-status/0"
    return {
        "kind": "tm:cm:failover-status:failover-statusstats",
        "selfLink": "https://localhost/mgmt/tm/cm/failover-status?ver=15.1.0",
        "entries": {
            key: {
                "nestedStats": {
                    "entries": {
                        "color": {"description": "green" if device.active else "gray"},
                        "status": {"description": status},
                        "summary": {"description": f"1/1 {status.lower()}"},
                    }
                }
            }
        },
    }

"""The lab VM agent's HTTP servers: node-exporter metrics + control, and the application port.

Metrics port (``:9100`` by default, on the VM's own loopback address):

* ``GET /metrics``          node-exporter text format (see ``lab.agent.metrics``)
* ``GET /control``          ``{"cpu": .., "memory": .., "healthy": ..}``
* ``PUT /control/load``     body ``{"cpu": 95, "memory": 40}`` (either may be left out)
* ``PUT /control/health``   body ``{"healthy": false}`` makes the app health path answer 503

Application port (``:8080``): ``GET <health_path>`` answers 200 ``ok`` (503 when unhealthy);
any other ``GET`` answers 200 with the host name, standing in for the application.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from lab.agent.metrics import LoadLevels, Machine

__all__ = ["AgentServers"]


def _handler(machine: Machine, *, app: bool, health_path: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "lab-vm-agent/1"

        def log_message(self, format: str, *args: Any) -> None:
            return

        def _send(self, status: int, body: str, content_type: str = "text/plain") -> None:
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _state(self) -> str:
            levels = machine.levels
            return json.dumps({"cpu": levels.cpu, "memory": levels.memory, "healthy": machine.healthy})

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if app:
                if path == health_path:
                    self._send(200 if machine.healthy else 503, "ok" if machine.healthy else "unhealthy")
                else:
                    self._send(200, f"app on {machine.hostname}\n")
                return
            if path == "/metrics":
                self._send(200, machine.render(), "text/plain; version=0.0.4")
            elif path == "/control":
                self._send(200, self._state(), "application/json")
            else:
                self._send(200, "lab vm agent: /metrics, /control\n")

        def do_PUT(self) -> None:
            if app:
                self._send(405, "method not allowed")
                return
            length = int(self.headers.get("Content-Length") or 0)
            try:
                body = json.loads(self.rfile.read(length) or b"{}")
                if self.path == "/control/load":
                    current = machine.levels
                    machine.set_levels(
                        LoadLevels(
                            cpu=float(body.get("cpu", current.cpu)),
                            memory=float(body.get("memory", current.memory)),
                        )
                    )
                elif self.path == "/control/health":
                    machine.healthy = bool(body["healthy"])
                else:
                    self._send(404, "not found")
                    return
            except (ValueError, KeyError, TypeError) as exc:
                self._send(400, json.dumps({"error": str(exc)}), "application/json")
                return
            self._send(200, self._state(), "application/json")

        do_POST = do_PUT

    return Handler


class AgentServers:
    """Both servers of one lab VM, each in its own thread."""

    def __init__(
        self,
        machine: Machine,
        address: str,
        metrics_port: int,
        app_port: int,
        health_path: str = "/",
    ) -> None:
        if not address.startswith("127."):
            raise ValueError(f"the lab agent binds loopback only, not {address}")
        self.metrics = ThreadingHTTPServer(
            (address, metrics_port), _handler(machine, app=False, health_path=health_path)
        )
        self.app = ThreadingHTTPServer((address, app_port), _handler(machine, app=True, health_path=health_path))
        self._threads = [
            threading.Thread(target=server.serve_forever, daemon=True) for server in (self.metrics, self.app)
        ]

    def start(self) -> None:
        """Serve both ports in background threads."""
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        """Stop serving and close the sockets."""
        for server in (self.metrics, self.app):
            server.shutdown()
            server.server_close()

"""Small HTTP servers standing in for lab VMs' applications on their own 127.0.10.x addresses.

``GET /`` answers 200 with the server's name (the health path); ``GET /slow?s=N`` answers after
N seconds, for drain tests that need a connection open while the member drains.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from lab.config import LabConfig
from lab.loadbalancer import HAProxyPaths
from lab.runner import Lab, Part

__all__ = ["Backend", "RunningHAProxy"]


class Backend:
    """A threaded HTTP server on ``address`` (port chosen by the OS)."""

    def __init__(self, name: str, address: str) -> None:
        self.name = name
        self.address = address
        self.served = 0
        backend = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                url = urlparse(self.path)
                if url.path == "/slow":
                    time.sleep(float(parse_qs(url.query).get("s", ["1"])[0]))
                body = backend.name.encode()
                backend.served += 1
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                return  # health checks reset their connections; that is not an error here

        self._server = Server((address, 0), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def endpoint(self) -> tuple[str, int]:
        """``(address, port)``."""
        return self.address, self.port

    def stop(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()


@dataclass
class RunningHAProxy:
    """A HAProxy started for one test through the lab part."""

    lab: Lab
    part: Part
    config: LabConfig
    paths: HAProxyPaths

    @property
    def frontend(self) -> str:
        """The frontend's base URL."""
        return f"http://127.0.0.1:{self.config.haproxy_frontend_port}"

    def pid(self) -> int:
        """The master process id."""
        pid = self.lab.pid(self.part)
        assert pid is not None
        return pid


@dataclass
class RunningF5:
    """The F5 simulator (active + standby units) started through the lab part."""

    lab: Lab
    part: Part
    config: LabConfig
    password: str

    @property
    def active_url(self) -> str:
        """Base URL of the unit that starts active."""
        return f"http://127.0.0.1:{self.config.f5_port}"

    @property
    def standby_url(self) -> str:
        """Base URL of the unit that starts standby."""
        return f"http://127.0.0.1:{self.config.f5_port + 1}"

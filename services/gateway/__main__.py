"""``python -m services.gateway``: read the settings once and serve HTTP.

With ``HTTP_WORKERS`` > 1, migrations run once here and uvicorn starts that many worker
processes, each building the app through ``services.gateway.asgi:build`` (which reads the same
environment). HTTPS when ``TLS_CERTFILE`` and ``TLS_KEYFILE`` are set.
"""

from __future__ import annotations

import uvicorn

from services.gateway.app import create_app
from services.gateway.settings import GatewaySettings
from shared.db import upgrade
from shared.runtime import tune_gc
from shared.telemetry import configure_logging


def main() -> None:
    """Serve the gateway until SIGINT or SIGTERM."""
    settings = GatewaySettings()
    configure_logging("gateway", settings.log_level, settings.log_format)
    tls = {"ssl_certfile": settings.tls_certfile, "ssl_keyfile": settings.tls_keyfile} if settings.tls_enabled else {}
    if settings.http_workers > 1:
        upgrade("gateway", settings.resolved_database_url())
        uvicorn.run(
            "services.gateway.asgi:build",
            factory=True,
            workers=settings.http_workers,
            host=settings.http_host,
            port=settings.http_port,
            log_config=None,
            access_log=False,
            proxy_headers=False,
            **tls,  # type: ignore[arg-type]
        )
        return
    app = create_app(settings)
    tune_gc()
    uvicorn.run(
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,
        proxy_headers=False,  # X-Forwarded-For is read only from TRUSTED_PROXIES (deps.client_address)
        **tls,  # type: ignore[arg-type]
    )


if __name__ == "__main__":
    main()

"""The gateway: the only HTTP entry point (Alertmanager webhook, REST API, web UI, SSE)."""

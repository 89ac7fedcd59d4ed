"""Test support for vmscale, not shipped in the wheel.

In-memory fakes of every port (one sub-package per service), the stand-ins the gateway and UI
tests run against, the steerable clock, message factories, and helpers that start test-only
servers (a NATS cluster, promtool, TLS material). Production code never imports this package.
"""

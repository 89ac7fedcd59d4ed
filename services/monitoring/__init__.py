"""The monitoring service: Prometheus, Alertmanager, Grafana registration and agents over SSH."""

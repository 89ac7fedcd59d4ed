"""Adapters of the monitoring service: one per external system, behind Protocols."""

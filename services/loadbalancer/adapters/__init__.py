"""Adapters of the loadbalancer service: one per external system, behind Protocols."""

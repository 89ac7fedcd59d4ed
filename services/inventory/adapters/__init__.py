"""Adapters of the inventory service: one per external system, behind Protocols."""

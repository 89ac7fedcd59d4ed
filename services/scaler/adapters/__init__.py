"""Adapters of the scaler service: one per external system, behind Protocols."""

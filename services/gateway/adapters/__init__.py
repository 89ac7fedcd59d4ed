"""Adapters of the gateway: its own tables (users, API keys, sessions)."""

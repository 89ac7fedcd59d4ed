"""Test support: the monitoring service's in-memory ports and the in-memory SSH hosts."""

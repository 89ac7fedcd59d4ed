"""Test support: the load balancer's in-memory pools and member records."""

"""Test support: the scaler's in-memory ports and the fake world that answers its commands on the bus."""

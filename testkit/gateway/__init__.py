"""Test support: the gateway's in-memory stores and the stand-in back ends on the bus."""

"""Test support: the inventory's in-memory vCenter and operation stores."""

"""Test support that ships with the contract: clocks, message factories, server discovery."""

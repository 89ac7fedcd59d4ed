"""Authentication and authorisation: roles, passwords, API keys, sessions."""

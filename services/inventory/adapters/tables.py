"""Tables the inventory service owns (and only it reads or writes)."""

from __future__ import annotations

from sqlalchemy import MetaData

from shared.db import inbox_table

__all__ = ["inbox", "metadata"]

metadata = MetaData()
inbox = inbox_table("inventory", metadata)

"""Tables the monitoring service owns (and only it reads or writes): the leases its replicas
take around each read-modify-write of a shared configuration file (``locks.LeaseLocks``)."""

from __future__ import annotations

from sqlalchemy import MetaData

from shared.singleton_sql import leases_table

__all__ = ["leases", "metadata"]

metadata = MetaData()

leases = leases_table(metadata, "monitoring_leases")

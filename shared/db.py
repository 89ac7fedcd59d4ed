"""Database plumbing: engines, sessions and per-service Alembic migrations.

Each service owns its tables and its migration history (``services/<name>/migrations``, version
table ``alembic_version_<name>``), so services can share one database without touching each
other's tables. SQLite is the default (a file under the state directory); PostgreSQL by URL.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import DateTime, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.types import TypeDecorator
from sqlmodel import Session, create_engine

from shared.errors import ServiceUnavailable

__all__ = ["UtcDateTime", "downgrade", "make_engine", "migration_config", "session_scope", "upgrade"]

SERVICES_DIR = Path(__file__).resolve().parent.parent / "services"


class UtcDateTime(TypeDecorator[datetime]):
    """``DateTime(timezone=True)`` that always hands back aware UTC datetimes.

    PostgreSQL keeps the zone; SQLite stores text without one and gives naive datetimes back.
    Values are written as UTC (a naive value is taken to be UTC) and read as UTC on both, so code
    never compares naive with aware.
    The column DDL is the same as ``DateTime(timezone=True)`` (migrations need no change).
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _normalise(url: str) -> str:
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def make_engine(url: str, **options: Any) -> Engine:
    """An engine for ``url``; SQLite gets WAL and foreign keys, PostgreSQL pre-ping."""
    url = _normalise(url)
    if url.startswith("sqlite"):
        path = url.split("sqlite:///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False}, **options)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=5000")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, **options)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error.

    Database connection failures surface as ``ServiceUnavailable``.
    """
    session = Session(engine, expire_on_commit=False)
    try:
        yield session
        session.commit()
    except OperationalError as exc:
        session.rollback()
        raise ServiceUnavailable("database unavailable") from exc
    except SQLAlchemyError:
        session.rollback()
        raise
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def migration_config(service: str, url: str) -> Config:
    """The Alembic configuration of ``service`` against ``url``."""
    script_location = SERVICES_DIR / service / "migrations"
    if not script_location.is_dir():
        raise FileNotFoundError(f"{service} has no migrations directory")
    config = Config()
    config.set_main_option("script_location", str(script_location))
    config.set_main_option("sqlalchemy.url", _normalise(url).replace("%", "%%"))
    config.attributes["service"] = service
    return config


def upgrade(service: str, url: str, revision: str = "head") -> None:
    """Migrate ``service``'s tables up to ``revision``."""
    command.upgrade(migration_config(service, url), revision)


def downgrade(service: str, url: str, revision: str = "base") -> None:
    """Migrate ``service``'s tables down to ``revision``."""
    command.downgrade(migration_config(service, url), revision)


def run_alembic_env(metadata: Any) -> None:
    """Body of every service's ``migrations/env.py``: online migrations, own version table."""
    from alembic import context

    config = context.config
    service = config.attributes.get("service") or Path(config.get_main_option("script_location") or "").parent.name
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as connection, _migration_lock(connection):
        context.configure(
            connection=connection,
            target_metadata=metadata,
            version_table=f"alembic_version_{service}",
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


MIGRATION_LOCK_KEY = int.from_bytes(hashlib.sha256(b"vmscale-migrations").digest()[:8], "big", signed=True)
"""The PostgreSQL advisory lock every vmscale migration holds (one key: all services may share a database)."""


@contextmanager
def _migration_lock(connection: Any) -> Iterator[None]:
    """On PostgreSQL, hold a session-level advisory lock while migrating, so replicas that start
    together migrate one after the other (the later ones find nothing left to do) instead of
    racing on the same ``CREATE TABLE``. SQLite serialises writers by itself."""
    if connection.dialect.name != "postgresql":
        yield
        return
    connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
    connection.commit()  # end the implicit transaction: alembic must begin (and commit) its own
    try:
        yield
    finally:
        connection.rollback()  # whatever alembic left open, so the unlock below can run
        connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY})
        connection.commit()


def inbox_table(service: str, metadata: Any) -> Any:
    """The ``<service>_inbox`` table: ids of messages already handled (idempotent consumers)."""
    from sqlalchemy import Column, String, Table

    return Table(
        f"{service}_inbox",
        metadata,
        Column("message_id", String(64), primary_key=True),
        Column("subject", String(200), nullable=False),
        Column("handled_at", UtcDateTime(), nullable=False),
    )

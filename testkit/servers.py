"""Databases and streams made for one test run, and removed after it; the PostgreSQL they live on."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

__all__ = [
    "DEFAULT_POSTGRES",
    "POSTGRES_MODE_ENV",
    "POSTGRES_URL_ENV",
    "STREAMS",
    "PostgresUnavailable",
    "delete_streams",
    "fresh_database",
    "postgres_answers",
    "postgres_server",
    "redact_url",
]


STREAMS = ("VMSCALE_COMMANDS", "VMSCALE_EVENTS", "VMSCALE_DLQ")

DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
POSTGRES_URL_ENV = "TEST_POSTGRES_URL"
POSTGRES_MODE_ENV = "VMSCALE_TEST_POSTGRES"
"""``embedded``: do not look at 127.0.0.1:5432, start the embedded server (proves that path)."""


class PostgresUnavailable(RuntimeError):
    """The PostgreSQL named in the environment does not answer (its URL is in the message, redacted)."""


def redact_url(url: str) -> str:
    """``url`` with its password, if any, replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{netloc}"))


def postgres_answers(url: str, timeout: int = 3) -> str | None:
    """None when a session opens on ``url``'s database, else why not (one line, no password)."""
    import psycopg

    try:
        with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), connect_timeout=timeout):
            return None
    except psycopg.Error as exc:
        return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


@contextlib.contextmanager
def postgres_server(env: Mapping[str, str] | None = None) -> Iterator[str]:
    """The PostgreSQL the tests (and bench) use, its URL yielded:

    1. ``TEST_POSTGRES_URL`` when set: used as named; if no session opens there,
       ``PostgresUnavailable`` (a server the user named is never silently replaced);
    2. else, unless ``VMSCALE_TEST_POSTGRES=embedded``, the server on 127.0.0.1:5432 when a
       session opens there as ``postgres`` on database ``test`` (trust authentication);
    3. else an embedded cluster (``shared.embedded_postgres``) in a new directory under the
       system's temporary directory, without fsync, stopped and removed when the block exits.
    """
    env = os.environ if env is None else env
    mode = env.get(POSTGRES_MODE_ENV, "")
    if mode not in ("", "embedded"):
        raise ValueError(f"{POSTGRES_MODE_ENV} is 'embedded' or unset, not {mode!r}")
    named = env.get(POSTGRES_URL_ENV)
    if named:
        reason = postgres_answers(named)
        if reason:
            raise PostgresUnavailable(
                f"{POSTGRES_URL_ENV}={redact_url(named)} does not answer ({reason}); "
                f"start that server, or unset {POSTGRES_URL_ENV} to use 127.0.0.1:5432 or an embedded one"
            )
        yield named
        return
    if mode != "embedded" and postgres_answers(DEFAULT_POSTGRES) is None:
        yield DEFAULT_POSTGRES
        return
    from shared.embedded_postgres import start_embedded_postgres

    home = Path(tempfile.mkdtemp(prefix="vmscale-postgres-"))
    home.chmod(0o711)  # as root the server runs as `postgres`, who must enter it
    try:
        server = start_embedded_postgres(home, durable=False)
        try:
            yield server.url
        finally:
            server.stop(timeout=30)
    finally:
        shutil.rmtree(home, ignore_errors=True)


@contextlib.contextmanager
def fresh_database(postgres_url: str, stem: str = "t") -> Iterator[str]:
    """A new PostgreSQL database next to ``postgres_url``'s, its URL yielded, dropped afterwards."""
    import psycopg

    name = f"{stem}_{uuid.uuid4().hex[:10]}"
    admin = postgres_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield postgres_url.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def delete_streams(nats_url: str, prefix: str) -> None:
    """Delete the JetStream streams a run under subject prefix ``prefix`` created (absent ones too)."""
    import nats
    from nats.js.errors import NotFoundError

    nc = await nats.connect(nats_url)
    try:
        for name in STREAMS:
            with contextlib.suppress(NotFoundError):
                await nc.jetstream().delete_stream(f"{prefix}_{name}")
    finally:
        await nc.close()

"""``python -m services.gateway.admin create NAME [--role admin]``: add a user from the shell.

The password is read from stdin (piped) or prompted without echo, never from the command line
(it would show in ``ps`` and shell history). Uses the gateway's settings (``DATABASE_URL``,
``STATE_DIR``) and migrates the gateway's tables first. Meant to back ``vmscale admin create``.
"""

from __future__ import annotations

import argparse
import getpass
import sys

from services.gateway.adapters.sql_auth import SqlKeyStore, SqlSessionStore, SqlUserStore
from services.gateway.auth.model import Role, UserCreate
from services.gateway.auth.secrets import PasswordHashing
from services.gateway.auth.service import AuthService
from services.gateway.settings import GatewaySettings
from shared.clock import SystemClock
from shared.db import make_engine, upgrade
from shared.errors import Conflict

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Create one user; exit 1 when the name is taken or the input is invalid."""
    parser = argparse.ArgumentParser(prog="vmscale admin")
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create", help="create a user (password from stdin or a prompt)")
    create.add_argument("username")
    create.add_argument("--role", choices=[role.value for role in Role], default=Role.ADMIN.value)
    args = parser.parse_args(argv)
    password = sys.stdin.readline().rstrip("\n") if not sys.stdin.isatty() else getpass.getpass("password: ")
    try:
        spec = UserCreate(username=args.username, password=password, role=Role(args.role))
    except ValueError as exc:
        print(f"invalid user: {exc}", file=sys.stderr)
        return 1
    settings = GatewaySettings()
    url = settings.resolved_database_url()
    upgrade("gateway", url)
    engine = make_engine(url)
    passwords = PasswordHashing(
        settings.password_hash_memory_kib, settings.password_hash_time_cost, settings.password_hash_parallelism
    )
    auth = AuthService(
        SqlUserStore(engine), SqlKeyStore(engine), SqlSessionStore(engine), SystemClock(), 3600, passwords
    )
    try:
        user = auth.create_user(spec)
    except Conflict:
        print(f"user {spec.username!r} exists", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    print(f"created {user.username} ({user.role.value})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""How a process reaches NATS: the server list, credentials and TLS, from the settings.

``NATS_URL`` is one URL or a comma-separated list (the nodes of a cluster); nats-py gets the
list, connects to one and, when that node goes away, reconnects to another without limit and
re-subscribes (JetStream consumers are durable, so no message is lost meanwhile).

Credentials, one kind at a time: a user and password (``NATS_USER`` + ``NATS_PASSWORD`` or
``NATS_PASSWORD_FILE``), an NKey seed file (``NATS_NKEY_SEED_FILE``) or a ``.creds`` file
(``NATS_CREDS_FILE``, a user JWT and its seed). TLS: ``NATS_TLS_CA_FILE`` verifies the
servers; ``NATS_TLS_CERT_FILE`` + ``NATS_TLS_KEY_FILE`` add a client certificate. The
password never leaves this module except inside the security object handed to the broker.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from faststream.nats.security import NatsCredentials, NatsNKey, NatsSecurity, NatsUserPassword
from pydantic import SecretStr

from shared.errors import ConfigurationError

__all__ = ["NatsConnection", "parse_servers"]

_SCHEMES = frozenset({"nats", "tls", "ws", "wss"})


def parse_servers(nats_url: str) -> list[str]:
    """The server URLs of ``NATS_URL`` (one URL or a comma list), in order, without blanks.

    Raises ``ConfigurationError`` naming the entry that is not a NATS URL.
    """
    servers = [part.strip() for part in nats_url.split(",") if part.strip()]
    if not servers:
        raise ConfigurationError("NATS_URL is empty")
    for server in servers:
        try:
            parsed = urlsplit(server)
            port = parsed.port
        except ValueError as exc:
            raise ConfigurationError(f"NATS_URL entry is not a URL: {_public(server)}") from exc
        if parsed.scheme not in _SCHEMES or not parsed.hostname:
            raise ConfigurationError(
                f"NATS_URL entry {_public(server)} must look like nats://host:port (schemes: {sorted(_SCHEMES)})"
            )
        if port is None and parsed.scheme in ("nats", "tls"):
            raise ConfigurationError(f"NATS_URL entry {_public(server)} has no port")
    return servers


def _public(server: str) -> str:
    """A server URL without the credentials it may embed (for errors and logs)."""
    if "@" not in server:
        return server
    scheme, _, rest = server.partition("://")
    return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"


@dataclass(frozen=True)
class NatsConnection:
    """Everything needed to open a NATS connection, validated."""

    servers: tuple[str, ...]
    user: str = ""
    password: SecretStr = field(default_factory=lambda: SecretStr(""))
    nkey_seed_file: Path | None = None
    creds_file: Path | None = None
    tls_ca_file: Path | None = None
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None

    def __post_init__(self) -> None:
        kinds = [kind for kind, given in self._credential_kinds().items() if given]
        if len(kinds) > 1:
            raise ConfigurationError(f"NATS credentials: give one of user/password, NKey seed, .creds (got {kinds})")
        if self.password.get_secret_value() and not self.user:
            raise ConfigurationError("NATS_PASSWORD is set without NATS_USER")
        if bool(self.tls_cert_file) != bool(self.tls_key_file):
            raise ConfigurationError("NATS_TLS_CERT_FILE and NATS_TLS_KEY_FILE go together")
        for label, path in self._files().items():
            if path is not None and not path.is_file():
                raise ConfigurationError(f"{label} does not name a readable file: {path}")

    @classmethod
    def from_settings(cls, settings: Any) -> NatsConnection:
        """Build from a ``ServiceSettings`` (its ``nats_*`` fields)."""
        return cls(
            servers=tuple(parse_servers(settings.nats_url)),
            user=settings.nats_user,
            password=settings.nats_password,
            nkey_seed_file=settings.nats_nkey_seed_file,
            creds_file=settings.nats_creds_file,
            tls_ca_file=settings.nats_tls_ca_file,
            tls_cert_file=settings.nats_tls_cert_file,
            tls_key_file=settings.nats_tls_key_file,
        )

    def _credential_kinds(self) -> dict[str, bool]:
        return {
            "user/password": bool(self.user),
            "nkey seed": self.nkey_seed_file is not None,
            ".creds": self.creds_file is not None,
        }

    def _files(self) -> dict[str, Path | None]:
        return {
            "NATS_NKEY_SEED_FILE": self.nkey_seed_file,
            "NATS_CREDS_FILE": self.creds_file,
            "NATS_TLS_CA_FILE": self.tls_ca_file,
            "NATS_TLS_CERT_FILE": self.tls_cert_file,
            "NATS_TLS_KEY_FILE": self.tls_key_file,
        }

    @property
    def auth_kind(self) -> str:
        """Which credentials are used: ``none``, ``user/password``, ``nkey seed`` or ``.creds``."""
        return next((kind for kind, given in self._credential_kinds().items() if given), "none")

    def tls_context(self) -> ssl.SSLContext | None:
        """The client TLS context (server verified against the CA file), or ``None`` without TLS."""
        if self.tls_ca_file is None and self.tls_cert_file is None:
            return None
        context = ssl.create_default_context(
            ssl.Purpose.SERVER_AUTH, cafile=str(self.tls_ca_file) if self.tls_ca_file else None
        )
        if self.tls_cert_file is not None and self.tls_key_file is not None:
            context.load_cert_chain(str(self.tls_cert_file), str(self.tls_key_file))
        return context

    def security(self) -> NatsSecurity | None:
        """FastStream's security object for the broker (``None``: anonymous, plain TCP)."""
        context = self.tls_context()
        if self.user:
            return NatsUserPassword(self.user, self.password.get_secret_value(), ssl_context=context)
        if self.nkey_seed_file is not None:
            return NatsNKey.from_file(self.nkey_seed_file, ssl_context=context)
        if self.creds_file is not None:
            return NatsCredentials.from_file(self.creds_file, ssl_context=context)
        return NatsSecurity(ssl_context=context) if context is not None else None

    def public(self) -> dict[str, Any]:
        """What may be logged: servers without embedded credentials, the kind of auth, TLS on/off."""
        return {
            "servers": [_public(server) for server in self.servers],
            "auth": self.auth_kind,
            "tls": self.tls_ca_file is not None or self.tls_cert_file is not None,
        }

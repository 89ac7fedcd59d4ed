"""Password hashing, token generation and constant-time comparison.

* Passwords: scrypt (stdlib ``hashlib.scrypt``, n=2**14, r=8, p=1, 16-byte salt), stored as
  ``scrypt$n$r$p$salt_b64$hash_b64`` so the cost can be raised later.
* API keys: ``vms_<prefix>_<secret>``; the prefix is stored in clear for lookup, the whole key as
  SHA-256 (keys are 256-bit random, so a fast hash is enough and keeps per-request cost low).
* Sessions and CSRF tokens: 256-bit random, URL-safe; sessions stored as SHA-256.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

__all__ = [
    "constant_time_equals",
    "hash_password",
    "hash_token",
    "new_api_key",
    "new_token",
    "split_api_key",
    "verify_password",
]

_N, _R, _P = 2**14, 8, 1
_KEY_PREFIX = "vms"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password(password: str) -> str:
    """A salted scrypt hash of ``password``."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return f"scrypt${_N}${_R}${_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    """True when ``password`` matches ``stored``; malformed hashes never match."""
    try:
        scheme, n, r, p, salt_b64, digest_b64 = stored.split("$")
        if scheme != "scrypt":
            return False
        salt = base64.b64decode(salt_b64)
        expected = base64.b64decode(digest_b64)
        digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=int(n), r=int(r), p=int(p), dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(digest, expected)


def constant_time_equals(given: str, expected: str) -> bool:
    """Compare two secrets without leaking where they differ (or, beyond hashing, their lengths)."""
    return hmac.compare_digest(
        hashlib.sha256(given.encode("utf-8")).digest(), hashlib.sha256(expected.encode("utf-8")).digest()
    )


def hash_token(token: str) -> str:
    """SHA-256 hex of a high-entropy token (session or API key)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    """A 256-bit random URL-safe token."""
    return secrets.token_urlsafe(32)


def new_api_key() -> tuple[str, str]:
    """A new API key and its lookup prefix."""
    prefix = secrets.token_hex(4)
    return f"{_KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}", prefix


def split_api_key(key: str) -> str | None:
    """The lookup prefix of something shaped like one of our API keys, else None."""
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != _KEY_PREFIX or len(parts[1]) != 8:
        return None
    return parts[1]

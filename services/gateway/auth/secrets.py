"""Password hashing, token generation and constant-time comparison.

* Passwords: Argon2id (argon2-cffi) at OWASP's minimum by default, m=19 MiB, t=2, p=1, in the
  standard PHC string ``$argon2id$v=19$m=…,t=…,p=…$salt$hash``, so the cost can be raised later
  (``PasswordHashing`` takes other parameters from the gateway's settings). Older hashes
  (``scrypt$n$r$p$salt_b64$hash_b64``, n=2**14 or 2**17) still verify, and ``needs_rehash``
  tells a successful login to store an Argon2id hash in their place.
* API keys: ``vms_<prefix>_<secret>``; the prefix is stored in clear for lookup, the whole key as
  SHA-256 (keys are 256-bit random, so a fast hash is enough and keeps per-request cost low).
* Sessions and CSRF tokens: 256-bit random, URL-safe; sessions stored as SHA-256.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field

from argon2 import PasswordHasher, Type, extract_parameters
from argon2.exceptions import InvalidHashError, VerificationError

__all__ = [
    "OWASP_MEMORY_KIB",
    "OWASP_PARALLELISM",
    "OWASP_TIME_COST",
    "PasswordHashing",
    "constant_time_equals",
    "hash_password",
    "hash_token",
    "needs_rehash",
    "new_api_key",
    "new_token",
    "split_api_key",
    "verify_password",
]

OWASP_MEMORY_KIB, OWASP_TIME_COST, OWASP_PARALLELISM = 19 * 1024, 2, 1
_MAX_MEMORY_KIB = 256 * 1024  # a stored hash asking for more is refused, not computed (2 cores)
_MAX_TIME_COST = 16
_SCRYPT_MAX_N, _SCRYPT_R, _SCRYPT_P = 2**18, 8, 1
_SCRYPT_MAXMEM = 129 * 1024 * 1024 * 2  # scrypt needs 128 * r * n bytes, plus headroom
_KEY_PREFIX = "vms"


@dataclass(frozen=True)
class PasswordHashing:
    """Argon2id with given parameters; the defaults are OWASP's minimum."""

    memory_kib: int = OWASP_MEMORY_KIB
    time_cost: int = OWASP_TIME_COST
    parallelism: int = OWASP_PARALLELISM
    _hasher: PasswordHasher = field(init=False, repr=False, compare=False)
    _dummy: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        hasher = PasswordHasher(
            time_cost=self.time_cost, memory_cost=self.memory_kib, parallelism=self.parallelism, type=Type.ID
        )
        object.__setattr__(self, "_hasher", hasher)
        # A real hash of a random password, checked when the user does not exist, so a login for
        # an unknown name costs the same as one for a known name.
        object.__setattr__(self, "_dummy", hasher.hash(secrets.token_urlsafe(32)))

    @property
    def dummy_hash(self) -> str:
        """A hash no password is known for, with today's parameters."""
        return self._dummy

    def hash(self, password: str) -> str:
        """A salted Argon2id hash of ``password``."""
        return self._hasher.hash(password)

    def verify(self, password: str, stored: str) -> bool:
        """True when ``password`` matches ``stored`` (Argon2id or legacy scrypt); malformed or
        over-costly hashes never match."""
        if stored.startswith("scrypt$"):
            return _verify_scrypt(password, stored)
        if not stored.startswith("$argon2id$"):
            return False
        try:
            params = extract_parameters(stored)
            if params.memory_cost > _MAX_MEMORY_KIB or params.time_cost > _MAX_TIME_COST:
                return False
            return self._hasher.verify(stored, password)
        except (VerificationError, InvalidHashError, ValueError):
            return False

    def needs_rehash(self, stored: str) -> bool:
        """True when ``stored`` is not an Argon2id hash with today's parameters."""
        if not stored.startswith("$argon2id$"):
            return True
        try:
            return self._hasher.check_needs_rehash(stored)
        except (InvalidHashError, ValueError):
            return True


def _verify_scrypt(password: str, stored: str) -> bool:
    """The gateway's former scheme, kept so old hashes log in once and are replaced."""
    try:
        scheme, n, r, p, salt_b64, digest_b64 = stored.split("$")
        if scheme != "scrypt":
            return False
        if int(n) > _SCRYPT_MAX_N or int(r) > _SCRYPT_R or int(p) > _SCRYPT_P:
            return False
        salt = base64.b64decode(salt_b64)
        expected = base64.b64decode(digest_b64)
        digest = hashlib.scrypt(
            password.encode("utf-8"),
            salt=salt,
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
            maxmem=_SCRYPT_MAXMEM,
        )
    except (ValueError, TypeError, MemoryError):
        return False
    return hmac.compare_digest(digest, expected)


@functools.cache
def _default() -> PasswordHashing:
    """The OWASP-cost hasher, built on first use rather than at import."""
    return PasswordHashing()


def hash_password(password: str) -> str:
    """A salted Argon2id hash of ``password`` at the default (OWASP) cost."""
    return _default().hash(password)


def verify_password(password: str, stored: str) -> bool:
    """True when ``password`` matches ``stored``; malformed hashes never match."""
    return _default().verify(password, stored)


def needs_rehash(stored: str) -> bool:
    """True when ``stored`` was made with another scheme or other parameters than the default."""
    return _default().needs_rehash(stored)


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

"""Token authentication as BIG-IP 12.0+ does it.

``POST /mgmt/shared/authn/login`` with ``username``/``password``/``loginProviderName`` returns
``token.token``; requests send it as ``X-F5-Auth-Token``. Tokens last ``timeout`` seconds (1200 by
default), may be extended with ``PATCH /mgmt/shared/authz/tokens/<token>`` up to 36000 s, and
are deleted with ``DELETE``. A user holds at most 100 live tokens. HTTP Basic also works.
"""

from __future__ import annotations

import base64
import secrets
import time
from dataclasses import dataclass

from lab.f5sim.model import F5Error

__all__ = ["MAX_TIMEOUT_S", "MAX_TOKENS", "Token", "TokenStore"]

MAX_TOKENS = 100
MAX_TIMEOUT_S = 36000


def _rest_error(code: int, message: str) -> F5Error:
    return F5Error(code, message, api_error=1)


@dataclass
class Token:
    """A login token."""

    token: str
    user: str
    timeout: int
    start: float

    @property
    def expires(self) -> float:
        """When it stops working (epoch seconds)."""
        return self.start + self.timeout

    def render(self) -> dict[str, object]:
        """The token object of the login answer."""
        return {
            "token": self.token,
            "name": self.token,
            "userName": self.user,
            "authProviderName": "tmos",
            "user": {"link": f"https://localhost/mgmt/shared/authz/users/{self.user}"},
            "timeout": self.timeout,
            "startTime": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(self.start)),
            "expirationMicros": int(self.expires * 1_000_000),
            "kind": "shared:authz:tokens:authtokenitemstate",
            "selfLink": f"https://localhost/mgmt/shared/authz/tokens/{self.token}",
        }


class TokenStore:
    """The tokens of one device."""

    def __init__(self, users: dict[str, str], timeout_s: int = 1200) -> None:
        self.users = users
        self.timeout_s = timeout_s
        self.tokens: dict[str, Token] = {}

    def _live(self) -> None:
        now = time.time()
        for key in [k for k, t in self.tokens.items() if t.expires <= now]:
            del self.tokens[key]

    def login(self, body: dict[str, object]) -> dict[str, object]:
        """Check the credentials and issue a token (401 / 400 at the per-user limit)."""
        user = str(body.get("username") or "")
        password = str(body.get("password") or "")
        expected = self.users.get(user)
        if expected is None or not secrets.compare_digest(expected, password):
            raise _rest_error(401, "Authentication failed.")
        self._live()
        if sum(1 for t in self.tokens.values() if t.user == user) >= MAX_TOKENS:
            raise _rest_error(400, f"User {user} has reached maximum active login tokens.")
        token = Token(secrets.token_hex(13).upper(), user, self.timeout_s, time.time())
        self.tokens[token.token] = token
        return {
            "username": user,
            "loginReference": {"link": "https://localhost/mgmt/cm/system/authn/providers/tmos/1/login"},
            "loginProviderName": str(body.get("loginProviderName") or "tmos"),
            "token": token.render(),
            "generation": 0,
            "lastUpdateMicros": 0,
        }

    def authenticate(self, headers: dict[str, str]) -> str:
        """The user behind a request's token or Basic credentials, or 401."""
        value = headers.get("x-f5-auth-token")
        if value:
            self._live()
            token = self.tokens.get(value)
            if token is None:
                raise _rest_error(401, "X-F5-Auth-Token does not exist.")
            return token.user
        basic = headers.get("authorization", "")
        if basic.lower().startswith("basic "):
            try:
                user, _, password = base64.b64decode(basic[6:]).decode().partition(":")
            except ValueError:
                user = password = ""
            expected = self.users.get(user)
            if expected is not None and secrets.compare_digest(expected, password):
                return user
            raise _rest_error(401, "Authentication failed.")
        raise _rest_error(401, "Authorization failed: no user authentication header or token detected.")

    def get(self, key: str) -> Token:
        """A live token, or 404."""
        self._live()
        token = self.tokens.get(key)
        if token is None:
            raise _rest_error(404, f"Token {key} does not exist.")
        return token

    def extend(self, key: str, timeout: object) -> Token:
        """Set a token's lifetime from its start (406 past ``MAX_TIMEOUT_S``)."""
        token = self.get(key)
        if not isinstance(timeout, int) or timeout <= 0:
            raise _rest_error(400, "timeout must be a positive integer")
        if timeout > MAX_TIMEOUT_S:
            raise _rest_error(406, f"Timeout is too long; the maximum is {MAX_TIMEOUT_S} seconds.")
        token.timeout = timeout
        return token

    def delete(self, key: str) -> None:
        """Forget a token (404 when unknown)."""
        self.get(key)
        del self.tokens[key]

    def expire_all(self) -> int:
        """Test control: every token stops working now."""
        count = len(self.tokens)
        self.tokens.clear()
        return count

    def count(self, user: str) -> int:
        """Live tokens of ``user``."""
        self._live()
        return sum(1 for t in self.tokens.values() if t.user == user)

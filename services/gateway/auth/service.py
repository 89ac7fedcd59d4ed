"""Authentication use cases: log in, resolve a caller, manage users and API keys.

Synchronous (the stores are); the routes run these in a worker thread.

* A key acts for its owner: its effective role is the lower of its own and its owner's current
  role (a demoted owner's keys lose the role at once), and a key created by a key belongs to the
  same owner (an owner-less key cannot create keys).
* A password change, a role change or disabling a user ends that user's sessions (all but the
  acting admin's own, when changing itself); expired sessions are purged periodically.
* Passwords are Argon2id; a successful login with an older hash (scrypt, or Argon2id under
  other parameters) stores a new one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from services.gateway.auth import secrets as sec
from services.gateway.auth.model import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyPublic,
    Principal,
    Role,
    UserCreate,
    UserPublic,
    UserUpdate,
)
from services.gateway.auth.ports import ApiKeyRecord, KeyStore, SessionRecord, SessionStore, UserRecord, UserStore
from shared.clock import Clock
from shared.errors import Conflict, Unauthorized

__all__ = ["AuthService", "LoginResult", "key_public", "user_public"]


def user_public(user: UserRecord) -> UserPublic:
    """The API shape of a stored user."""
    return UserPublic(
        id=user.id, username=user.username, role=user.role, disabled=user.disabled, created_at=user.created_at
    )


def key_public(key: ApiKeyRecord) -> ApiKeyPublic:
    """The API shape of a stored key."""
    return ApiKeyPublic(
        id=key.id,
        name=key.name,
        prefix=key.prefix,
        role=key.role,
        user_id=key.user_id,
        created_at=key.created_at,
        last_used_at=key.last_used_at,
        revoked=key.revoked,
    )


@dataclass(frozen=True)
class LoginResult:
    """A new session: the cookie token (shown once) and the CSRF token bound to it."""

    token: str
    csrf: str
    user: UserPublic
    expires_in_s: int


class AuthService:
    """Users, keys and sessions over the three stores."""

    def __init__(
        self,
        users: UserStore,
        keys: KeyStore,
        sessions: SessionStore,
        clock: Clock,
        session_ttl_s: int,
        passwords: sec.PasswordHashing | None = None,
    ) -> None:
        self.passwords = passwords or sec.PasswordHashing()
        self.users = users
        self.keys = keys
        self.sessions = sessions
        self.clock = clock
        self.session_ttl_s = session_ttl_s

    # -- sessions -----------------------------------------------------------------------------

    def login(self, username: str, password: str) -> LoginResult:
        """Check the password and open a session; ``Unauthorized`` on any mismatch."""
        user = self.users.by_name(username)
        # An unknown name is checked against a dummy hash, so it costs the same as a known one.
        ok = self.passwords.verify(password, user.password_hash if user else self.passwords.dummy_hash)
        if user is None or not ok or user.disabled:
            raise Unauthorized("wrong user name or password")
        if self.passwords.needs_rehash(user.password_hash):  # the password is at hand only now
            self.users.update(user.id, password_hash=self.passwords.hash(password))
        token = sec.new_token()
        now = self.clock.now()
        self.sessions.add(
            SessionRecord(sec.hash_token(token), user.id, now, now + timedelta(seconds=self.session_ttl_s))
        )
        return LoginResult(token, csrf_for(token), user_public(user), self.session_ttl_s)

    def purge_sessions(self) -> int:
        """Delete expired sessions; how many."""
        return self.sessions.purge_expired(self.clock.now())

    def logout(self, token: str) -> None:
        """End the session of ``token`` (idempotent)."""
        self.sessions.delete(sec.hash_token(token))

    def from_session(self, token: str) -> Principal | None:
        """The user behind a session cookie, or None when it is unknown, expired or disabled."""
        record = self.sessions.get(sec.hash_token(token))
        if record is None:
            return None
        if record.expires_at <= self.clock.now():
            self.sessions.delete(record.token_hash)
            return None
        user = self.users.get(record.user_id)
        if user is None or user.disabled:
            return None
        return Principal(name=user.username, role=user.role, via="session", user_id=user.id)

    # -- API keys -----------------------------------------------------------------------------

    def from_api_key(self, key: str) -> Principal | None:
        """The principal of an API key, or None when it is unknown or revoked."""
        prefix = sec.split_api_key(key)
        if prefix is None:
            return None
        wanted = sec.hash_token(key)
        for record in self.keys.by_prefix(prefix):
            if sec.constant_time_equals(record.key_hash, wanted) and not record.revoked:
                role = record.role
                if record.user_id is not None:
                    owner = self.users.get(record.user_id)
                    if owner is None or owner.disabled:
                        return None
                    role = min(role, owner.role, key=lambda r: r.rank)  # never above the owner today
                self.keys.touch(record.id, self.clock.now())
                return Principal(
                    name=f"key:{record.name}", role=role, via="api_key", user_id=record.user_id, key_id=record.id
                )
        return None

    def create_key(self, spec: ApiKeyCreate, owner: Principal) -> ApiKeyCreated:
        """A new key, owned by the creating user (a key's own owner when a key creates it); its
        role may not exceed the creator's."""
        if not owner.role.allows(spec.role):
            raise Unauthorized("a key cannot have more rights than its creator")
        if owner.via == "api_key" and owner.user_id is None:
            raise Unauthorized("a key without an owning user cannot create keys; log in as a user")
        key, prefix = sec.new_api_key()
        record = self.keys.add(spec.name, prefix, sec.hash_token(key), spec.role, owner.user_id, self.clock.now())
        return ApiKeyCreated(**key_public(record).model_dump(), key=key)

    # -- users --------------------------------------------------------------------------------

    def create_user(self, spec: UserCreate) -> UserPublic:
        """A new user with a hashed password."""
        return user_public(
            self.users.add(spec.username, self.passwords.hash(spec.password), spec.role, self.clock.now())
        )

    def update_user(
        self, user_id: int, change: UserUpdate, actor: Principal, actor_session: str | None = None
    ) -> UserPublic:
        """Change role, disabled flag or password; an admin cannot demote or disable itself.

        A new password, another role or disabling ends the user's sessions, except
        ``actor_session`` (the acting admin's own cookie token, when it changes itself).
        """
        if actor.user_id == user_id and (change.disabled or (change.role and change.role is not Role.ADMIN)):
            raise Conflict("you cannot demote or disable your own account")
        before = self.users.get(user_id)
        password_hash = self.passwords.hash(change.password) if change.password else None
        updated = self.users.update(user_id, role=change.role, disabled=change.disabled, password_hash=password_hash)
        role_changed = before is not None and updated.role is not before.role
        if password_hash is not None or role_changed or change.disabled:
            keep = sec.hash_token(actor_session) if actor_session and actor.user_id == user_id else None
            self.sessions.end_for_user(user_id, keep=keep)
        return user_public(updated)

    def ensure_admin(self, username: str, password: str) -> UserPublic | None:
        """Create the first admin when no user exists yet; None when users already exist."""
        if self.users.count() > 0:
            return None
        return self.create_user(UserCreate(username=username, password=password, role=Role.ADMIN))


def csrf_for(session_token: str) -> str:
    """The CSRF token bound to a session: derived, so nothing more is stored."""
    return sec.hash_token("csrf:" + session_token)[:43]

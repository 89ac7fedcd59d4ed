"""Accounts over the in-memory stores: keys follow their owner, sessions end on changes, old hashes
are replaced, expired sessions are purged."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable

import pytest

from services.gateway.auth import secrets as sec
from services.gateway.auth.model import ApiKeyCreate, Principal, Role, UserCreate, UserUpdate
from services.gateway.auth.service import AuthService
from shared.errors import Unauthorized
from testkit.clock import FakeClock
from testkit.gateway.memory import MemoryKeyStore, MemorySessionStore, MemoryStores, MemoryUserStore

PASSWORD = "a long enough password"


@pytest.fixture
def auth(clock: FakeClock) -> AuthService:
    stores = MemoryStores()
    return AuthService(
        MemoryUserStore(stores), MemoryKeyStore(stores), MemorySessionStore(stores), clock, session_ttl_s=3600
    )


def legacy_hash(password: str) -> str:
    """A hash as the gateway made them before: scrypt n=2**14."""
    salt = b"0123456789abcdef"
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)
    return f"scrypt$16384$8$1${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def admin_principal(auth: AuthService, name: str = "ada") -> Principal:
    user = auth.create_user(UserCreate(username=name, password=PASSWORD, role=Role.ADMIN))
    return Principal(name=user.username, role=user.role, via="session", user_id=user.id)


def legacy_scrypt_131072(password: str) -> str:
    """A hash as the gateway made them this morning: scrypt n=2**17."""
    salt = b"fedcba9876543210"
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**17, r=8, p=1, dklen=32, maxmem=2**28)
    return f"scrypt$131072$8$1${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def test_new_hashes_are_argon2id_at_owasps_minimum_cost() -> None:
    stored = sec.hash_password(PASSWORD)
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert not sec.needs_rehash(stored)
    assert sec.needs_rehash(legacy_hash(PASSWORD))
    assert sec.needs_rehash(legacy_scrypt_131072(PASSWORD))


@pytest.mark.parametrize("old_hash", [legacy_hash, legacy_scrypt_131072])
def test_a_legacy_scrypt_hash_logs_in_and_is_replaced_by_an_argon2id_one(
    auth: AuthService, old_hash: Callable[[str], str]
) -> None:
    user = auth.create_user(UserCreate(username="leo", password=PASSWORD))
    auth.users.update(user.id, password_hash=old_hash(PASSWORD))
    auth.login("leo", PASSWORD)
    stored = auth.users.get(user.id).password_hash
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$") and sec.verify_password(PASSWORD, stored)
    auth.login("leo", PASSWORD)  # and still logs in
    assert auth.users.get(user.id).password_hash == stored  # a current hash is not rewritten


def test_raised_parameters_rehash_at_the_next_login(clock: FakeClock) -> None:
    stores = MemoryStores()
    users, keys, sessions = MemoryUserStore(stores), MemoryKeyStore(stores), MemorySessionStore(stores)
    cheap = AuthService(users, keys, sessions, clock, 3600, sec.PasswordHashing(memory_kib=64, time_cost=1))
    user = cheap.create_user(UserCreate(username="leo", password=PASSWORD))
    assert users.get(user.id).password_hash.startswith("$argon2id$v=19$m=64,t=1,p=1$")
    AuthService(users, keys, sessions, clock, 3600).login("leo", PASSWORD)
    assert users.get(user.id).password_hash.startswith("$argon2id$v=19$m=19456,t=2,p=1$")


def test_a_wrong_password_against_a_legacy_hash_changes_nothing(auth: AuthService) -> None:
    user = auth.create_user(UserCreate(username="leo", password=PASSWORD))
    old = legacy_hash(PASSWORD)
    auth.users.update(user.id, password_hash=old)
    with pytest.raises(Unauthorized):
        auth.login("leo", "not the password")
    assert auth.users.get(user.id).password_hash == old


def test_a_keys_role_is_capped_by_its_owners_current_role(auth: AuthService) -> None:
    ada = admin_principal(auth)
    key = auth.create_key(ApiKeyCreate(name="ci", role=Role.ADMIN), ada).key
    assert auth.from_api_key(key).role is Role.ADMIN
    auth.users.update(ada.user_id, role=Role.VIEWER)  # demoted
    assert auth.from_api_key(key).role is Role.VIEWER
    auth.users.update(ada.user_id, role=Role.OPERATOR)
    assert auth.from_api_key(key).role is Role.OPERATOR


def test_a_key_created_by_a_key_belongs_to_the_same_owner(auth: AuthService) -> None:
    ada = admin_principal(auth)
    first = auth.create_key(ApiKeyCreate(name="ci", role=Role.ADMIN), ada).key
    by_key = auth.from_api_key(first)
    second = auth.create_key(ApiKeyCreate(name="ci-2", role=Role.OPERATOR), by_key)
    assert second.user_id == ada.user_id
    auth.users.update(ada.user_id, disabled=True)
    assert auth.from_api_key(second.key) is None


def test_a_key_without_an_owner_cannot_create_keys(auth: AuthService) -> None:
    orphan = Principal(name="key:legacy", role=Role.ADMIN, via="api_key", key_id=7)
    with pytest.raises(Unauthorized):
        auth.create_key(ApiKeyCreate(name="ci", role=Role.VIEWER), orphan)


@pytest.mark.parametrize(
    "change",
    [UserUpdate(password="another long password"), UserUpdate(role=Role.VIEWER), UserUpdate(disabled=True)],
    ids=["password", "role", "disable"],
)
def test_a_password_role_or_disable_change_ends_the_users_sessions(auth: AuthService, change: UserUpdate) -> None:
    ada = admin_principal(auth)
    olga = auth.create_user(UserCreate(username="olga", password=PASSWORD, role=Role.OPERATOR))
    tokens = [auth.login("olga", PASSWORD).token for _ in range(2)]
    own = auth.login("ada", PASSWORD).token
    auth.update_user(olga.id, change, ada, own)
    assert [auth.from_session(token) for token in tokens] == [None, None]
    assert auth.from_session(own) is not None  # someone else's change leaves the admin alone


def test_an_unrelated_change_keeps_the_sessions(auth: AuthService) -> None:
    ada = admin_principal(auth)
    olga = auth.create_user(UserCreate(username="olga", password=PASSWORD, role=Role.OPERATOR))
    token = auth.login("olga", PASSWORD).token
    auth.update_user(olga.id, UserUpdate(role=Role.OPERATOR), ada)  # same role
    assert auth.from_session(token) is not None


def test_changing_ones_own_password_keeps_the_current_session_and_ends_the_others(auth: AuthService) -> None:
    ada = admin_principal(auth)
    current, other = auth.login("ada", PASSWORD).token, auth.login("ada", PASSWORD).token
    auth.update_user(ada.user_id, UserUpdate(password="another long password"), ada, current)
    assert auth.from_session(current) is not None
    assert auth.from_session(other) is None


def test_expired_sessions_are_purged(auth: AuthService, clock: FakeClock) -> None:
    admin_principal(auth)
    old = auth.login("ada", PASSWORD).token
    clock.advance(1800)
    fresh = auth.login("ada", PASSWORD).token
    clock.advance(2000)  # the first is past its hour, the second is not
    assert auth.purge_sessions() == 1
    assert auth.sessions.get(sec.hash_token(old)) is None
    assert auth.sessions.get(sec.hash_token(fresh)) is not None

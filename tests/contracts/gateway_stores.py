"""The contract of the gateway's stores (STYLE rule 12).

Subclass ``GatewayStoresContract`` and provide a fixture ``stores`` returning
``(UserStore, KeyStore, SessionStore, AuditLog)`` over empty, shared state. It runs against the
in-memory fakes (unit tier) and the SQL adapters on PostgreSQL (integration tier).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.gateway.auth.model import Role
from services.gateway.auth.ports import AuditEntry, SessionRecord
from shared.errors import Conflict, NotFound

__all__ = ["GatewayStoresContract"]

NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)


class GatewayStoresContract:
    """Behaviour every implementation of the four stores shares."""

    def test_a_user_is_stored_and_found_by_id_and_by_name_ignoring_case(self, stores) -> None:
        users, *_ = stores
        user = users.add("Alice", "hash", Role.OPERATOR, NOW)
        assert user.username == "alice" and user.role is Role.OPERATOR and not user.disabled
        assert users.get(user.id) == user
        assert users.by_name("ALICE") == user
        assert users.by_name("bob") is None and users.get(9999) is None
        assert users.count() == 1

    def test_a_duplicate_user_name_is_a_conflict(self, stores) -> None:
        users, *_ = stores
        users.add("alice", "hash", Role.VIEWER, NOW)
        with pytest.raises(Conflict):
            users.add("ALICE", "other", Role.ADMIN, NOW)
        assert users.count() == 1

    def test_update_changes_only_the_given_fields(self, stores) -> None:
        users, *_ = stores
        user = users.add("alice", "hash", Role.VIEWER, NOW)
        changed = users.update(user.id, role=Role.ADMIN)
        assert (changed.role, changed.disabled, changed.password_hash) == (Role.ADMIN, False, "hash")
        changed = users.update(user.id, disabled=True, password_hash="new")
        assert (changed.role, changed.disabled, changed.password_hash) == (Role.ADMIN, True, "new")
        with pytest.raises(NotFound):
            users.update(9999, role=Role.ADMIN)

    def test_deleting_a_user_removes_its_sessions_and_keys(self, stores) -> None:
        users, keys, sessions, _ = stores
        user = users.add("alice", "hash", Role.ADMIN, NOW)
        keys.add("k1", "abcd1234", "h1", Role.VIEWER, user.id, NOW)
        sessions.add(SessionRecord("t" * 64, user.id, NOW, NOW + timedelta(hours=1)))
        users.delete(user.id)
        assert users.list() == [] and keys.list() == [] and sessions.get("t" * 64) is None
        with pytest.raises(NotFound):
            users.delete(user.id)

    def test_keys_are_found_by_prefix_revoked_idempotently_and_touched(self, stores) -> None:
        _, keys, _, _ = stores
        key = keys.add("ci", "abcd1234", "hash", Role.OPERATOR, None, NOW)
        assert keys.by_prefix("abcd1234") == [key] and keys.by_prefix("ffff0000") == []
        with pytest.raises(Conflict):
            keys.add("ci", "eeee1111", "hash2", Role.VIEWER, None, NOW)
        keys.touch(key.id, NOW + timedelta(minutes=1))
        assert keys.by_prefix("abcd1234")[0].last_used_at == NOW + timedelta(minutes=1)
        assert keys.revoke(key.id).revoked and keys.revoke(key.id).revoked
        with pytest.raises(NotFound):
            keys.revoke(9999)

    def test_sessions_are_stored_deleted_and_purged_when_expired(self, stores) -> None:
        users, _, sessions, _ = stores
        user = users.add("alice", "hash", Role.ADMIN, NOW)
        sessions.add(SessionRecord("a" * 64, user.id, NOW, NOW + timedelta(hours=1)))
        sessions.add(SessionRecord("b" * 64, user.id, NOW, NOW + timedelta(hours=3)))
        assert sessions.get("a" * 64).expires_at == NOW + timedelta(hours=1)
        assert sessions.purge_expired(NOW + timedelta(hours=2)) == 1
        assert sessions.get("a" * 64) is None and sessions.get("b" * 64) is not None
        sessions.delete("b" * 64)
        sessions.delete("b" * 64)
        assert sessions.get("b" * 64) is None

    def test_a_users_sessions_end_together_except_the_one_kept(self, stores) -> None:
        users, _, sessions, _ = stores
        alice, bob = users.add("alice", "hash", Role.ADMIN, NOW), users.add("bob", "hash", Role.VIEWER, NOW)
        for token, user in (("a", alice), ("b", alice), ("c", alice), ("d", bob)):
            sessions.add(SessionRecord(token * 64, user.id, NOW, NOW + timedelta(hours=1)))
        assert sessions.end_for_user(alice.id, keep="a" * 64) == 2
        assert [sessions.get(t * 64) is not None for t in "abcd"] == [True, False, False, True]
        assert sessions.end_for_user(alice.id) == 1
        assert sessions.end_for_user(alice.id) == 0
        assert sessions.get("d" * 64) is not None

    def test_a_session_for_a_missing_user_is_refused(self, stores) -> None:
        _, _, sessions, _ = stores
        with pytest.raises(Conflict):
            sessions.add(SessionRecord("c" * 64, 424242, NOW, NOW + timedelta(hours=1)))

    def test_the_audit_log_lists_newest_first_with_filters(self, stores) -> None:
        *_, audit = stores
        for index, action in enumerate(["group.create", "group.enable", "user.create"]):
            audit.append(
                AuditEntry(NOW + timedelta(seconds=index), "alice", action, "web", "127.0.0.1", detail={"i": index})
            )
        audit.append(AuditEntry(NOW, "bob", "group.delete", "web", "127.0.0.1", outcome="denied"))
        assert [e.action for e in audit.recent()] == ["group.delete", "user.create", "group.enable", "group.create"]
        assert [e.action for e in audit.recent(actor="alice", action="group.")] == ["group.enable", "group.create"]
        assert audit.recent(limit=1)[0].outcome == "denied"
        assert audit.recent(actor="alice")[-1].detail == {"i": 0}

"""The contract every ``ResultStore`` implementation keeps (STYLE rule 12).

Subclass ``ResultStoreContract`` and provide the fixture ``store``: an empty ``ResultStore``.
It runs against the in-memory fake (unit tier) and the SQL store on PostgreSQL (integration).
"""

from __future__ import annotations

from datetime import UTC, datetime

from services.loadbalancer.outbox import ResultStore, StoredResult
from shared import subjects

__all__ = ["ResultStoreContract", "stored_result"]

AT = datetime(2026, 12, 7, 7, 0, tzinfo=UTC)


def stored_result(message_id: str, subject: str = subjects.POOL_MEMBER_ADDED.name, body: str = "{}") -> StoredResult:
    """A result as the outbox stores it."""
    return StoredResult(message_id, subject, body, AT)


class ResultStoreContract:
    async def test_an_empty_store_has_nothing_pending(self, store: ResultStore) -> None:
        assert await store.pending() == []

    async def test_results_come_back_oldest_first_with_every_field(self, store: ResultStore) -> None:
        first = stored_result("m-2", subjects.POOL_MEMBER_ADDED.name, '{"name": "vm-2"}')
        second = stored_result("m-1", subjects.POOL_UPDATED.name, '{"pool": "web"}')
        await store.add(first)
        await store.add(second)
        assert await store.pending() == [first, second]

    async def test_adding_a_stored_message_id_again_keeps_one_in_its_place(self, store: ResultStore) -> None:
        await store.add(stored_result("m-1", body='{"a": 1}'))
        await store.add(stored_result("m-2"))
        await store.add(stored_result("m-1", body='{"a": 2}'))
        assert [(r.message_id, r.body) for r in await store.pending()] == [("m-1", '{"a": 1}'), ("m-2", "{}")]

    async def test_remove_forgets_one_and_absent_is_fine(self, store: ResultStore) -> None:
        await store.add(stored_result("m-1"))
        await store.add(stored_result("m-2"))
        await store.remove("m-1")
        await store.remove("m-1")
        await store.remove("never-stored")
        assert [r.message_id for r in await store.pending()] == ["m-2"]

    async def test_a_removed_message_id_can_be_stored_again_behind_the_others(self, store: ResultStore) -> None:
        await store.add(stored_result("m-1"))
        await store.add(stored_result("m-2"))
        await store.remove("m-1")
        await store.add(stored_result("m-1"))
        assert [r.message_id for r in await store.pending()] == ["m-2", "m-1"]

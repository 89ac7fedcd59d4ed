"""The contract every ``MemberRecords`` implementation keeps (STYLE rule 12).

Subclass ``MemberRecordsContract`` and provide the fixture ``records``: an empty ``MemberRecords``.
It runs against the in-memory fake (unit tier) and the SQL store on PostgreSQL (integration).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.loadbalancer.records import Desired, MemberRecord, MemberRecords

__all__ = ["MemberRecordsContract"]

AT = datetime(2026, 12, 7, 7, 0, tzinfo=UTC)


def draining(causation_id: str | None = "drain-1") -> MemberRecord:
    return MemberRecord("web", "web-7", "127.0.10.7", 8080, Desired.DRAINING, AT, 600.0, "act-1", "corr", causation_id)


class MemberRecordsContract:
    async def test_a_put_record_comes_back_whole_and_a_delete_forgets_it(self, records: MemberRecords) -> None:
        record = draining()
        await records.put(record)
        assert await records.get("web", "web-7") == record
        assert await records.all() == [record]
        await records.delete("web", "web-7")
        await records.delete("web", "web-7")  # absent is fine
        assert await records.get("web", "web-7") is None

    async def test_advance_replaces_the_record_while_it_is_still_the_expected_one(self, records: MemberRecords) -> None:
        for causation in ("drain-1", None):
            record = draining(causation)
            await records.put(record)
            done = record.moved(Desired.DRAINED, AT + timedelta(seconds=30))
            assert await records.advance(record, done) is True
            assert await records.get("web", "web-7") == done

    async def test_advance_writes_nothing_once_another_command_replaced_or_deleted_it(
        self, records: MemberRecords
    ) -> None:
        record = draining()
        newer = MemberRecord("web", "web-7", "127.0.10.7", 8080, Desired.ACTIVE, AT, 0.0, "act-2", "c2", "cancel-1")
        await records.put(newer)  # a cancel stored after the drain's wait read its record
        done = record.moved(Desired.DRAINED, AT)
        assert await records.advance(record, done) is False
        assert await records.get("web", "web-7") == newer
        same_state_other_command = draining("drain-2")
        await records.put(same_state_other_command)
        assert await records.advance(record, done) is False
        assert await records.get("web", "web-7") == same_state_other_command
        await records.delete("web", "web-7")
        assert await records.advance(record, done) is False
        assert await records.get("web", "web-7") is None  # a removed member is not brought back

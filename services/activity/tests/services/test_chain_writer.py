"""The chain writer: numbering, hashing, idempotency and serialisation of concurrent batches."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from activity_service.services.chain_writer import ChainWriter, RejectedBatch
from activity_service.services.event_rows import NewEvent
from activity_service.services.link_hash import GENESIS_HASH
from activity_service.services.verification import ChainIntact
from common.db import Database
from common.testing import free_port

from ..conftest import MakeEvent, Sql, Store, Verify


class TestAppend:
    async def test_numbers_the_events_from_one_and_links_them(
        self, store: Store, make_event: MakeEvent, sql: Sql, verify_chain: Verify
    ) -> None:
        events = [make_event() for _ in range(3)]
        result = await store(events)
        assert (result.stored, result.duplicates, result.head_seq) == (3, 0, 3)
        rows = await sql("SELECT seq, event_id, prev_hash, hash FROM activity.event ORDER BY seq")
        assert [r["seq"] for r in rows] == [1, 2, 3]
        assert [r["event_id"] for r in rows] == [e.id for e in events]
        assert rows[0]["prev_hash"] == GENESIS_HASH
        assert rows[1]["prev_hash"] == rows[0]["hash"]
        assert rows[2]["prev_hash"] == rows[1]["hash"]
        assert result.head_hash == rows[2]["hash"]
        intact = await verify_chain()
        assert intact == ChainIntact(checked=3, head_seq=3, head_hash=rows[2]["hash"])

    async def test_stores_every_column_of_the_event(
        self, store: Store, make_event: MakeEvent, sql: Sql
    ) -> None:
        event = make_event(actor_id="user-7", metadata={"ip_country": "NL", "attempt": 2})
        await store([event])
        (row,) = await sql("SELECT * FROM activity.event")
        assert row["event_id"] == event.id
        assert row["occurred_at"] == event.occurred_at
        assert (row["service"], row["action"], row["outcome"]) == ("auth", event.action, "success")
        assert (row["actor_type"], row["actor_id"], row["actor_ip"], row["actor_user_agent"]) == (
            "user",
            "user-7",
            "203.0.113.7",
            "tests/1.0",
        )
        assert (row["resource_type"], row["resource_id"]) == ("user", "u-1")
        assert row["request_id"] == event.request_id
        assert row["metadata"] == '{"attempt": 2, "ip_country": "NL"}'

    async def test_metadata_is_hashed_as_postgresql_gives_it_back(
        self, store: Store, make_event: MakeEvent, verify_chain: Verify, sql: Sql
    ) -> None:
        """JSONB rewrites numbers (1e20 reads back as an integer, -0.0 as 0.0) and reorders
        keys; the hash must be the one verification recomputes from the row."""
        metadata = {"big": 1e20, "tiny": 1.5e-7, "negative_zero": -0.0, "z": 1, "a": [0.1, 1.0]}
        await store([make_event(metadata=metadata)])
        (row,) = await sql("SELECT metadata::text AS m FROM activity.event")
        assert '"big": 100000000000000000000' in row["m"]
        assert (await verify_chain()).ok is True


class TestIdempotency:
    async def test_a_redelivered_event_is_skipped_and_the_chain_stays_intact(
        self, store: Store, make_event: MakeEvent, sql: Sql, verify_chain: Verify
    ) -> None:
        first, second, third = make_event(), make_event(), make_event()
        await store([first, second])
        result = await store([second, third])  # `second` arrives again
        assert (result.stored, result.duplicates, result.head_seq) == (1, 1, 3)
        rows = await sql("SELECT seq, event_id FROM activity.event ORDER BY seq")
        assert [(r["seq"], r["event_id"]) for r in rows] == [
            (1, first.id),
            (2, second.id),
            (3, third.id),
        ]
        assert (await verify_chain()).ok is True

    async def test_a_batch_of_only_known_events_changes_nothing(
        self, store: Store, make_event: MakeEvent, sql: Sql
    ) -> None:
        events = [make_event(), make_event()]
        stored = await store(events)
        again = await store(events)
        assert (again.stored, again.duplicates) == (0, 2)
        assert (again.head_seq, again.head_hash) == (stored.head_seq, stored.head_hash)
        assert (await sql("SELECT count(*) AS n FROM activity.event"))[0]["n"] == 2

    async def test_duplicates_inside_one_batch_are_stored_once(
        self, store: Store, make_event: MakeEvent, sql: Sql
    ) -> None:
        event, other = make_event(), make_event()
        result = await store([event, other, event])
        assert (result.stored, result.duplicates) == (2, 1)
        rows = await sql("SELECT event_id FROM activity.event ORDER BY seq")
        assert [r["event_id"] for r in rows] == [event.id, other.id]


class TestConcurrency:
    async def test_concurrent_writers_extend_one_gapless_chain(
        self, database: Database, make_event: MakeEvent, sql: Sql, verify_chain: Verify
    ) -> None:
        """Writers in parallel (the lock serialises them), with overlapping batches."""
        events = [make_event() for _ in range(200)]
        batches = [events[i : i + 20] for i in range(0, 200, 20)]
        batches += [events[i : i + 30] for i in range(0, 200, 30)]  # every event twice
        writers = [ChainWriter(database.engine) for _ in range(4)]

        async def run(index: int) -> None:
            for batch in batches[index::4]:
                await writers[index].append([NewEvent.from_audit_event(e) for e in batch])

        await asyncio.gather(*(run(i) for i in range(4)))
        rows = await sql("SELECT seq, event_id, hash FROM activity.event ORDER BY seq")
        assert [r["seq"] for r in rows] == list(range(1, 201))
        assert {r["event_id"] for r in rows} == {e.id for e in events}
        assert (await verify_chain()) == ChainIntact(
            checked=200, head_seq=200, head_hash=rows[-1]["hash"]
        )


class TestRejection:
    async def test_a_row_the_database_refuses_fails_the_whole_batch_and_moves_nothing(
        self, store: Store, make_event: MakeEvent, sql: Sql, verify_chain: Verify
    ) -> None:
        before = await store([make_event()])
        await sql(
            "ALTER TABLE activity.event ADD CONSTRAINT test_refuse CHECK (action <> 'bad.row')"
        )
        try:
            with pytest.raises(RejectedBatch, match="CheckViolation"):
                await store([make_event(), make_event(action="bad.row"), make_event()])
            after = await store([make_event()])
        finally:
            await sql("ALTER TABLE activity.event DROP CONSTRAINT test_refuse")
        assert after.head_seq == before.head_seq + 1
        assert (await verify_chain()).ok is True

    async def test_an_outage_is_not_a_rejection(self, make_event: MakeEvent) -> None:
        """A refused connection propagates as it is (the consumer waits it out), never as a
        rejection that would send good events towards the dead-letter stream."""
        engine = create_async_engine(f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/x")
        try:
            with pytest.raises(OSError):  # noqa: PT011 (any refused connection)
                await ChainWriter(engine).append([NewEvent.from_audit_event(make_event())])
        finally:
            await engine.dispose()

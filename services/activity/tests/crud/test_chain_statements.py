"""The chain writer's statements: the duplicate check must stay an index lookup per id, whatever
plan PostgreSQL caches for it, or every batch reads the whole chain as it grows."""

from __future__ import annotations

import uuid

import asyncpg

from activity_service.crud import ChainStatements, chain_statements
from activity_service.settings import ActivitySettings

from ..conftest import MakeEvent, Store


async def _generic_plan(settings: ActivitySettings, statement: str) -> str:
    """The plan PostgreSQL caches for `statement` once it stops planning per execution."""
    connection = await asyncpg.connect(settings.database_url.replace("+asyncpg", ""))
    try:
        await connection.execute("SET plan_cache_mode = force_generic_plan")
        await connection.execute(f"PREPARE probe(uuid[]) AS {statement}")
        rows = await connection.fetch("EXPLAIN EXECUTE probe(ARRAY[gen_random_uuid()])")
        return "\n".join(row[0] for row in rows)
    finally:
        await connection.close()


class TestExistingEventIds:
    async def test_finds_the_stored_ids_among_the_batch(
        self, settings: ActivitySettings, store: Store, make_event: MakeEvent
    ) -> None:
        stored = [make_event() for _ in range(3)]
        await store(stored)
        fresh = [uuid.uuid4() for _ in range(2)]
        connection = await asyncpg.connect(settings.database_url.replace("+asyncpg", ""))
        try:
            found = await ChainStatements(connection).existing_event_ids(
                [stored[0].id, fresh[0], stored[2].id, fresh[1]]
            )
        finally:
            await connection.close()
        assert found == {stored[0].id, stored[2].id}

    async def test_the_cached_plan_probes_the_unique_index_instead_of_scanning(
        self, settings: ActivitySettings
    ) -> None:
        plan = await _generic_plan(settings, chain_statements._EXISTING)
        assert "uq_event_event_id" in plan, plan
        assert "Seq Scan on event" not in plan, plan

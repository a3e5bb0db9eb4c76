"""Verification finds the first link that does not hold: a changed row, a removed row, a row
slipped in, a relinked chain. Tampering happens as an attacker with superuser rights would do it:
disable the append-only triggers, change the table, enable them again."""

from __future__ import annotations

import json
from dataclasses import asdict

import pytest

from activity_service.exceptions import InvalidSeqRange
from activity_service.services.link_hash import GENESIS_HASH, link_hash

from ..conftest import MakeEvent, Sql, Store, Verify, behind_the_triggers


@pytest.fixture
async def chain(store: Store, make_event: MakeEvent) -> None:
    """25 links (more than two of the verifier's batches of 10)."""
    await store([make_event() for _ in range(25)])


@pytest.mark.usefixtures("chain")
class TestIntactChain:
    async def test_the_whole_chain_verifies(self, verify_chain: Verify, sql: Sql) -> None:
        (head,) = await sql("SELECT hash FROM activity.event WHERE seq = 25")
        result = await verify_chain()
        assert asdict(result) == {
            "ok": True,
            "checked": 25,
            "head_seq": 25,
            "head_hash": head["hash"],
        }

    async def test_a_range_verifies_against_the_link_before_it(self, verify_chain: Verify) -> None:
        result = await verify_chain(from_seq=7, to_seq=19)
        assert (result.ok, result.checked, result.head_seq) == (True, 13, 19)

    async def test_a_range_past_the_head_checks_what_exists(self, verify_chain: Verify) -> None:
        assert (await verify_chain(from_seq=20, to_seq=1000)).checked == 6
        beyond = await verify_chain(from_seq=26)
        assert asdict(beyond) == {
            "ok": True,
            "checked": 0,
            "head_seq": None,
            "head_hash": None,
        }

    async def test_an_inverted_range_is_refused(self, verify_chain: Verify) -> None:
        with pytest.raises(InvalidSeqRange):
            await verify_chain(from_seq=5, to_seq=4)


async def test_an_empty_chain_is_intact(verify_chain: Verify) -> None:
    result = await verify_chain()
    assert asdict(result) == {"ok": True, "checked": 0, "head_seq": None, "head_hash": None}


@pytest.mark.usefixtures("chain")
class TestTampering:
    async def test_a_changed_column_is_found_at_its_seq(
        self, sql: Sql, verify_chain: Verify
    ) -> None:
        await behind_the_triggers(
            sql, "UPDATE activity.event SET actor_id = 'someone-else' WHERE seq = 13"
        )
        result = await verify_chain()
        assert asdict(result) == {
            "ok": False,
            "first_broken_seq": 13,
            "reason": "hash does not match the row's contents",
        }

    async def test_changed_metadata_is_found(self, sql: Sql, verify_chain: Verify) -> None:
        await behind_the_triggers(
            sql, """UPDATE activity.event SET metadata = '{"n": 999}' WHERE seq = 4"""
        )
        assert (await verify_chain()).first_broken_seq == 4

    async def test_a_row_rehashed_after_its_change_breaks_the_next_link(
        self, sql: Sql, verify_chain: Verify
    ) -> None:
        """An attacker who recomputes the changed row's hash, but not every later one."""
        (row,) = await sql("SELECT * FROM activity.event WHERE seq = 8")
        forged = {**dict(row), "actor_id": "someone-else", "metadata": json.loads(row["metadata"])}
        forged_hash = link_hash(row["prev_hash"], forged)
        await behind_the_triggers(
            sql,
            "UPDATE activity.event SET actor_id = 'someone-else', hash = $1 WHERE seq = 8",
            forged_hash,
        )
        result = await verify_chain()
        assert asdict(result) == {
            "ok": False,
            "first_broken_seq": 9,
            "reason": "prev_hash differs from the hash of link 8",
        }

    async def test_a_deleted_row_is_found_at_its_seq(self, sql: Sql, verify_chain: Verify) -> None:
        await behind_the_triggers(sql, "DELETE FROM activity.event WHERE seq = 17")
        result = await verify_chain()
        assert asdict(result) == {
            "ok": False,
            "first_broken_seq": 17,
            "reason": "link 17 is missing (the next stored link is 18)",
        }

    async def test_a_deleted_first_row_is_found(self, sql: Sql, verify_chain: Verify) -> None:
        await behind_the_triggers(sql, "DELETE FROM activity.event WHERE seq = 1")
        assert (await verify_chain()).first_broken_seq == 1

    async def test_a_row_slipped_in_is_found(self, sql: Sql, verify_chain: Verify) -> None:
        """A forged event appended by hand, with made-up hashes."""
        await sql(
            "INSERT INTO activity.event (seq, event_id, occurred_at, recorded_at, service, action,"
            " outcome, actor_type, metadata, prev_hash, hash)"
            " SELECT 26, gen_random_uuid(), now(), now(), 'auth', 'auth.user.login', 'success',"
            " 'user', '{}', hash, repeat('b', 64) FROM activity.event WHERE seq = 25"
        )
        result = await verify_chain()
        assert (result.ok, result.first_broken_seq) == (False, 26)

    async def test_a_range_check_ignores_damage_outside_it(
        self, sql: Sql, verify_chain: Verify
    ) -> None:
        await behind_the_triggers(sql, "UPDATE activity.event SET action = 'x.y' WHERE seq = 20")
        assert (await verify_chain(from_seq=1, to_seq=19)).ok is True
        assert (await verify_chain(from_seq=21)).ok is True
        assert (await verify_chain(from_seq=15)).first_broken_seq == 20

    async def test_a_wrong_genesis_is_found(self, sql: Sql, verify_chain: Verify) -> None:
        await behind_the_triggers(
            sql, "UPDATE activity.event SET prev_hash = repeat('1', 64) WHERE seq = 1"
        )
        result = await verify_chain()
        assert asdict(result) == {
            "ok": False,
            "first_broken_seq": 1,
            "reason": f"prev_hash of link 1 is not the genesis hash ({GENESIS_HASH[:8]}...)",
        }

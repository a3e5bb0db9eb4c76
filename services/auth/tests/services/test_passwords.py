"""argon2id parameters, the policy, and hashing off the event loop."""

from __future__ import annotations

import asyncio
import time

import pytest

from auth_service.exceptions import HashingBusy, WeakPassword
from auth_service.services.passwords import PasswordHasher, PasswordPolicy, common_passwords


@pytest.fixture
def hasher() -> PasswordHasher:
    return PasswordHasher(concurrency=2)


class TestPasswordHasher:
    async def test_uses_argon2id_with_at_least_the_owasp_parameters(
        self, hasher: PasswordHasher
    ) -> None:
        encoded = await hasher.hash("correct horse battery staple")
        assert encoded.startswith("$argon2id$v=19$m=19456,t=2,p=1$")

    async def test_verifies_the_right_password_only(self, hasher: PasswordHasher) -> None:
        encoded = await hasher.hash("correct horse battery staple")
        assert await hasher.verify(encoded, "correct horse battery staple")
        assert not await hasher.verify(encoded, "Correct horse battery staple")
        assert not await hasher.verify("not-a-hash", "anything")

    async def test_normalises_unicode_before_hashing(self, hasher: PasswordHasher) -> None:
        composed = "caf\u00e9 au lait s'il vous plait"
        decomposed = "cafe\u0301 au lait s'il vous plait"
        assert await hasher.verify(await hasher.hash(composed), decomposed)

    async def test_no_hash_takes_as_long_and_says_no(self, hasher: PasswordHasher) -> None:
        assert not await hasher.verify(None, "correct horse battery staple")

    async def test_sheds_what_exceeds_the_waiting_room_at_once(self) -> None:
        bounded = PasswordHasher(concurrency=1, max_waiting=3)
        try:
            outcomes = await asyncio.gather(
                *(bounded.hash(f"passphrase number {n}") for n in range(8)),
                return_exceptions=True,
            )
            assert sum(isinstance(o, str) for o in outcomes) == 3
            assert sum(isinstance(o, HashingBusy) for o in outcomes) == 5
            assert bounded.waiting == 0
            assert await bounded.verify(str(outcomes[0]), "passphrase number 0")
        finally:
            bounded.close()

    async def test_hashing_leaves_the_event_loop_free(self, hasher: PasswordHasher) -> None:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.001)

        task = asyncio.create_task(ticker())
        started = time.perf_counter()
        await asyncio.gather(*(hasher.hash(f"password number {i}") for i in range(6)))
        elapsed = time.perf_counter() - started
        task.cancel()
        # Had hashing blocked the loop, the ticker would have run ~once per hash.
        assert ticks > elapsed / 0.001 / 4


class TestPasswordPolicy:
    def test_the_blocklist_is_loaded(self) -> None:
        assert "password1234" in common_passwords()
        assert len(common_passwords()) > 10_000

    @pytest.mark.parametrize(
        "candidate", ["correct horse battery staple", "ünïcödé pässphrâse", "P4ssw0rd-is-long!"]
    )
    def test_accepts_long_uncommon_passwords(self, candidate: str) -> None:
        PasswordPolicy(min_length=12).check(candidate, email="someone@example.com")

    @pytest.mark.parametrize(
        "candidate",
        [
            "short",
            "password1234",
            "PASSWORD1234",
            "zzzzzzzzzzzzzz",
            "someone@example.com",
            "someone",
        ],
    )
    def test_refuses(self, candidate: str) -> None:
        with pytest.raises(WeakPassword):
            PasswordPolicy(min_length=8).check(candidate, email="someone@example.com")

    def test_minimum_length_is_configurable(self) -> None:
        PasswordPolicy(min_length=8).check("tr0ub4dor&3")
        with pytest.raises(WeakPassword, match="at least 15"):
            PasswordPolicy(min_length=15).check("tr0ub4dor&3x")

    def test_counts_characters_not_bytes(self) -> None:
        PasswordPolicy(min_length=12).check("日本語のパスワードです安全")

"""Password hashing (argon2id) and the password policy.

Hashing runs on a small dedicated thread pool: argon2 releases the GIL, so the event loop keeps
serving while hashes are computed, and a burst of logins queues for a hashing slot instead of
starving every other thread-pool user. The policy follows NIST SP 800-63B: a minimum length, a
maximum of 128, any Unicode (NFKC-normalised), no composition rules, a blocklist of common
passwords and of the account's own e-mail address.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import sys
import threading
import unicodedata
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from importlib import resources
from typing import TypeVar

from argon2 import PasswordHasher as Argon2Hasher
from argon2 import Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from auth_service.exceptions import HashingBusy, WeakPassword

# OWASP Password Storage Cheat Sheet minimum for argon2id: m=19 MiB, t=2, p=1.
ARGON2_TIME_COST = 2
ARGON2_MEMORY_KIB = 19 * 1024
ARGON2_PARALLELISM = 1
MAX_PASSWORD_LENGTH = 128
HASH_THREAD_NICENESS = 19

_T = TypeVar("_T")


def _lower_priority() -> None:
    """Run in each hashing thread: on Linux a thread has its own nice value, so hashes take the
    CPU the event loop leaves over instead of competing with it for every request."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HASH_THREAD_NICENESS)


def _argon2id() -> Argon2Hasher:
    return Argon2Hasher(
        time_cost=ARGON2_TIME_COST,
        memory_cost=ARGON2_MEMORY_KIB,
        parallelism=ARGON2_PARALLELISM,
        type=Type.ID,
    )


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """A hash of a random password, made once per process."""
    return _argon2id().hash(secrets.token_urlsafe(16))


def normalize(password: str) -> str:
    return unicodedata.normalize("NFKC", password)


class PasswordHasher:
    """argon2id on `concurrency` threads, for at most `max_waiting` requests at once (those
    hashing and those queued for a thread): beyond that, `HashingBusy` (429) at once. A queue
    without a bound would turn a burst into minutes of latency for everyone, logins included."""

    def __init__(self, *, concurrency: int, max_waiting: int = 1_000) -> None:
        self._argon2 = _argon2id()
        self._executor = ThreadPoolExecutor(
            max_workers=concurrency, thread_name_prefix="argon2", initializer=_lower_priority
        )
        self.max_waiting = max_waiting
        self._waiting = 0
        # Verified when the account does not exist, so both answers take the same time.
        self._dummy_hash = _dummy_hash()

    @property
    def waiting(self) -> int:
        return self._waiting

    async def _run(self, work: Callable[..., _T], *args: str) -> _T:
        # Counted on the event loop's thread only, so no lock is needed.
        if self._waiting >= self.max_waiting:
            raise HashingBusy
        self._waiting += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, work, *args)
        finally:
            self._waiting -= 1

    async def hash(self, password: str) -> str:
        return await self._run(self._argon2.hash, normalize(password))

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """True when `password` matches; with no hash, spends the same time and says False."""
        target = password_hash or self._dummy_hash
        ok = await self._run(self._verify, target, normalize(password))
        return ok and password_hash is not None

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._argon2.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        return self._argon2.check_needs_rehash(password_hash)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    text = (resources.files("auth_service") / "data" / "common-passwords.txt").read_text("utf-8")
    return frozenset(
        line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")
    )


class PasswordPolicy:
    def __init__(self, *, min_length: int, blocklist: frozenset[str] | None = None) -> None:
        self.min_length = min_length
        self.blocklist = common_passwords() if blocklist is None else blocklist

    def check(self, password: str, *, email: str | None = None) -> None:
        candidate = normalize(password)
        if len(candidate) < self.min_length:
            raise WeakPassword(f"The password must have at least {self.min_length} characters.")
        if len(candidate) > MAX_PASSWORD_LENGTH:
            raise WeakPassword(f"The password must have at most {MAX_PASSWORD_LENGTH} characters.")
        folded = candidate.casefold()
        if folded in self.blocklist:
            raise WeakPassword("This password is too common; choose another.")
        if len(set(folded)) == 1:
            raise WeakPassword("The password must not repeat a single character.")
        if email:
            address = email.casefold()
            if folded in {address, address.partition("@")[0]}:
                raise WeakPassword("The password must not be your e-mail address.")

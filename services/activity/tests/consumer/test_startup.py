"""`python -m activity_service.consumer` as real processes: killed with SIGKILL in the middle of
its work, stopped with SIGTERM, two of them at once. Whatever happens, every event ends up
stored exactly once and the chain verifies."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import httpx
import pytest

from activity_service.settings import ActivitySettings
from common.testing import free_port

from ..conftest import MakeEvent, Trail

StartConsumer = Callable[..., subprocess.Popen[bytes]]


@pytest.fixture
def start_consumer(settings: ActivitySettings, tmp_path: Path) -> Iterator[StartConsumer]:
    """Start the consumer process on the test's database and stream; every process still
    running at the end of the test is killed."""
    processes: list[subprocess.Popen[bytes]] = []

    def start(**env: str) -> subprocess.Popen[bytes]:
        log = (tmp_path / f"consumer-{len(processes)}.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "activity_service.consumer"],
            env={
                **os.environ,
                "DATABASE_URL": settings.database_url,
                "REDIS_URL": settings.redis_url,
                "REDIS_KEY_PREFIX": settings.redis_key_prefix,
                "ENVIRONMENT": "test",
                "LOG_LEVEL": "WARNING",
                "AUDIT_CONSUMER_BATCH_SIZE": "200",
                "AUDIT_CONSUMER_BLOCK_MS": "100",
                "AUDIT_CONSUMER_CLAIM_IDLE_MS": "500",
                "AUDIT_CONSUMER_CLAIM_INTERVAL_MS": "100",
                **env,
            },
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        processes.append(process)
        return process

    yield start
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait()


async def until(check: Callable[[], Awaitable[bool]], seconds: float, what: str) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not within {seconds} s: {what}")
        await asyncio.sleep(0.005)


async def exit_status(process: subprocess.Popen[bytes], seconds: float = 10) -> int:
    return await asyncio.to_thread(process.wait, seconds)


async def assert_stored_exactly_once(trail: Trail, event_ids: set[object]) -> None:
    stored = await trail.stored()
    assert len(stored) == len(event_ids)
    assert set(stored) == event_ids
    result = await trail.verify()
    assert (result.ok, result.checked, result.head_seq) == (True, len(event_ids), len(event_ids))


class TestCrash:
    async def test_killed_mid_batch_then_restarted_stores_everything_once(
        self, start_consumer: StartConsumer, trail: Trail, make_event: MakeEvent
    ) -> None:
        events = [make_event() for _ in range(4000)]
        await trail.publish(*events)
        first = start_consumer()

        async def mid_batch() -> bool:
            # Some stored, some read but not acknowledged: a batch is under way.
            return 0 < await trail.count() < len(events) and bool(await trail.pending())

        await until(mid_batch, 20, "the consumer works on a batch")
        first.send_signal(signal.SIGKILL)
        assert await exit_status(first) == -signal.SIGKILL
        left_at_kill = await trail.count()
        assert left_at_kill < len(events)

        second = start_consumer()

        async def all_stored_and_acknowledged() -> bool:
            return await trail.count() >= len(events) and not await trail.pending()

        await until(all_stored_and_acknowledged, 30, "every event stored and acknowledged")
        second.send_signal(signal.SIGINT)  # Ctrl+C stops it as gracefully as SIGTERM
        assert await exit_status(second) == 0
        await assert_stored_exactly_once(trail, {e.id for e in events})


class TestShutdown:
    async def test_sigterm_finishes_the_batch_acknowledges_and_exits_0(
        self, start_consumer: StartConsumer, trail: Trail, make_event: MakeEvent
    ) -> None:
        events = [make_event() for _ in range(3000)]
        await trail.publish(*events)
        process = start_consumer()

        async def working() -> bool:
            return await trail.count() > 0

        await until(working, 20, "the consumer stores events")
        process.send_signal(signal.SIGTERM)
        assert await exit_status(process, 5) == 0
        assert await trail.pending() == {}  # what it read, it stored and acknowledged
        (group,) = await trail.redis.xinfo_groups(trail.stream)
        stored = await trail.stored()
        assert len(stored) == group["entries-read"]  # everything read, nothing more
        assert set(stored) == {e.id for e in events[: len(stored)]}
        assert (await trail.verify()).checked == len(stored)
        assert await trail.consumers() == []  # it left the group


class TestConcurrentConsumers:
    async def test_two_consumers_store_everything_once_in_one_chain(
        self, start_consumer: StartConsumer, trail: Trail, make_event: MakeEvent
    ) -> None:
        ports = [free_port(), free_port()]
        processes = [start_consumer(AUDIT_CONSUMER_METRICS_PORT=str(port)) for port in ports]
        names = sorted(f"{socket.gethostname()}-{p.pid}" for p in processes)

        async def both_ready() -> bool:
            return all([await _answers(port) for port in ports])

        await until(both_ready, 20, "both consumers serve their metrics")
        events = [make_event() for _ in range(4000)]
        # At least once: a quarter of the events is published twice.
        await trail.publish(*events, *events[::4])

        async def both_joined() -> bool:
            return await trail.consumers() == names  # named <hostname>-<pid>

        await until(both_joined, 20, "both consumers read from the group")

        async def all_stored_and_acknowledged() -> bool:
            return await trail.count() >= len(events) and not await trail.pending()

        await until(all_stored_and_acknowledged, 30, "every event stored and acknowledged")
        async with httpx.AsyncClient() as http:
            scraped = [(await http.get(f"http://127.0.0.1:{port}/metrics")).text for port in ports]
        processes[0].send_signal(signal.SIGTERM)
        processes[1].send_signal(signal.SIGINT)
        assert [await exit_status(p) for p in processes] == [0, 0]

        await assert_stored_exactly_once(trail, {e.id for e in events})
        stored_by = [_sample(text, "audit_consumer_events_stored_total") for text in scraped]
        assert all(count > 0 for count in stored_by), stored_by  # both did part of the work
        assert sum(stored_by) == len(events)


async def _answers(port: int) -> bool:
    try:
        async with httpx.AsyncClient() as http:
            return (await http.get(f"http://127.0.0.1:{port}/metrics")).status_code == 200
    except httpx.TransportError:
        return False


def _sample(metrics: str, name: str) -> float:
    for line in metrics.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in the metrics")

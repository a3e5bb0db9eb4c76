"""`/health/ready` of the gateway: ready only when every upstream's own readiness says so, each
upstream's state listed by name (never its URL), in at most the timeout, and a probe storm
costs each upstream one call per cache period."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

import httpx
import pytest

from common.testing import free_port
from gateway.readiness import _status_of
from gateway.testing import EchoUpstream

GatewayOpener = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]
Served = tuple[EchoUpstream, str]


class TestBreakdown:
    async def test_ok_when_every_upstream_is_ready(
        self, gateway: GatewayOpener, upstream_a: Served, upstream_b: Served
    ) -> None:
        async with gateway() as client:
            response = await client.get("/health/ready")

        assert response.status_code == 200
        assert response.json() == {"status": "ok", "checks": {"a": "ok", "b": "ok"}}
        assert (upstream_a[0].ready_calls, upstream_b[0].ready_calls) == (1, 1)

    async def test_503_naming_an_upstream_that_is_down(
        self, gateway: GatewayOpener, upstream_a: Served
    ) -> None:
        down = f"http://127.0.0.1:{free_port()}"
        async with gateway({"a": {"url": upstream_a[1]}, "b": {"url": down}}) as client:
            response = await client.get("/health/ready")

        assert response.status_code == 503
        assert response.json() == {
            "status": "unavailable",
            "checks": {"a": "ok", "b": "unavailable"},
        }
        assert "127.0.0.1" not in response.text

    async def test_503_when_an_upstream_is_not_ready(
        self, gateway: GatewayOpener, upstream_b: Served
    ) -> None:
        upstream_b[0].ready_code, upstream_b[0].ready_status = 503, "unavailable"
        async with gateway() as client:
            response = await client.get("/health/ready")

        assert response.status_code == 503
        assert response.json() == {
            "status": "unavailable",
            "checks": {"a": "ok", "b": "unavailable"},
        }

    async def test_the_upstreams_own_word_is_relayed(
        self, gateway: GatewayOpener, upstream_b: Served
    ) -> None:
        upstream_b[0].ready_code, upstream_b[0].ready_status = 503, "draining"
        async with gateway() as client:
            response = await client.get("/health/ready")

        assert response.status_code == 503
        assert response.json()["checks"] == {"a": "ok", "b": "draining"}

    async def test_a_slow_upstream_is_unavailable_within_the_timeout(
        self, gateway: GatewayOpener, upstream_b: Served
    ) -> None:
        upstream_b[0].ready_delay = 30
        async with gateway(upstream_ready_timeout=0.5) as client:
            started = time.monotonic()
            response = await client.get("/health/ready")
            elapsed = time.monotonic() - started

        assert response.status_code == 503
        assert response.json()["checks"] == {"a": "ok", "b": "unavailable"}
        assert elapsed < 0.5 + 1.0


class TestStatusOfAnAnswer:
    @pytest.mark.parametrize(
        ("code", "body", "status"),
        [
            (200, b'{"status": "ok", "checks": {}}', "ok"),
            (503, b'{"status": "unavailable"}', "unavailable"),
            (503, b'{"status": "ok"}', "unavailable"),
            (200, b'{"status": "degraded"}', "degraded"),
            (503, b'{"status": "down at http://10.0.0.7:5432"}', "unavailable"),
            (503, b'{"status": 3}', "unavailable"),
            (200, b"<html>ok</html>", "unavailable"),
            (200, b"[]", "unavailable"),
        ],
    )
    def test_only_a_200_saying_ok_is_ok_and_only_a_plain_word_is_shown(
        self, code: int, body: bytes, status: str
    ) -> None:
        assert _status_of(code, body) == status


class TestCache:
    async def test_probes_within_the_window_share_one_upstream_call(
        self, gateway: GatewayOpener, upstream_a: Served
    ) -> None:
        async with gateway(upstream_ready_cache_seconds=0.5) as client:
            first = await client.get("/health/ready")
            second = await client.get("/health/ready")
            calls_within = upstream_a[0].ready_calls
            await asyncio.sleep(0.7)
            third = await client.get("/health/ready")

        assert [r.status_code for r in (first, second, third)] == [200, 200, 200]
        assert calls_within == 1
        assert upstream_a[0].ready_calls == 2

    async def test_a_failure_is_cached_too(
        self, gateway: GatewayOpener, upstream_b: Served
    ) -> None:
        upstream_b[0].ready_code, upstream_b[0].ready_status = 503, "unavailable"
        async with gateway(upstream_ready_cache_seconds=30) as client:
            first = await client.get("/health/ready")
            upstream_b[0].ready_code, upstream_b[0].ready_status = 200, "ok"
            second = await client.get("/health/ready")

        assert (first.status_code, second.status_code) == (503, 503)
        assert upstream_b[0].ready_calls == 1

    async def test_concurrent_probes_wait_for_one_check(
        self, gateway: GatewayOpener, upstream_a: Served, upstream_b: Served
    ) -> None:
        upstream_a[0].ready_delay = upstream_b[0].ready_delay = 0.3  # all 20 arrive meanwhile
        async with gateway(upstream_ready_cache_seconds=0) as client:
            responses = await asyncio.gather(*(client.get("/health/ready") for _ in range(20)))

        assert {r.status_code for r in responses} == {200}
        assert (upstream_a[0].ready_calls, upstream_b[0].ready_calls) == (1, 1)

"""Large bodies through the gateway run as its own process (uvicorn, as `make dev` runs it),
so that its memory can be measured alone: the peak resident size (VmHWM) may not grow by
anything near the size of a body that went through it, either way."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from common.testing import free_port
from gateway.testing import EchoUpstream, pattern, pattern_digest

MIB = 1024 * 1024
SIZE = 64 * MIB
# Far below the body's size: a gateway that held the body would grow by 64 MiB or more.
MAX_GROWTH = 24 * MIB


def peak_rss(pid: int) -> int:
    """The process's peak resident set size (VmHWM), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc")


@asynccontextmanager
async def gateway_process(upstream_url: str, workdir: Path) -> AsyncIterator[tuple[str, int]]:
    """The gateway as a uvicorn process before `upstream_url`: its base URL and pid."""
    port = free_port()
    env = {
        **os.environ,
        "ENVIRONMENT": "test",
        "ACCESS_LOG": "false",
        "LOG_LEVEL": "WARNING",
        "GATEWAY_UPSTREAMS": json.dumps({"a": {"url": upstream_url}}),
        "GATEWAY_ROUTES": json.dumps({"/api/v1/things": "a"}),
        "MAX_BODY_SIZE": str(2 * SIZE),
    }
    command = [sys.executable, "-m", "uvicorn", "gateway.main:create_app", "--factory"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--no-proxy-headers"]
    # Our own interpreter and arguments; started once, waited for off the event loop.
    process = subprocess.Popen(  # noqa: S603, ASYNC220
        command, cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=url) as client:
            for _ in range(200):
                with contextlib.suppress(httpx.TransportError):
                    if (await client.get("/health")).status_code == 200:
                        break
                if process.poll() is not None:
                    raise AssertionError(process.stderr.read().decode() if process.stderr else "")
                await asyncio.sleep(0.05)
        yield url, process.pid
    finally:
        process.terminate()
        await asyncio.to_thread(process.wait, 10)
        if process.stderr:
            process.stderr.close()


@pytest.fixture
async def served(
    upstream_a: tuple[EchoUpstream, str], tmp_path: Path
) -> AsyncIterator[tuple[httpx.AsyncClient, int]]:
    async with (
        gateway_process(upstream_a[1], tmp_path) as (url, pid),
        httpx.AsyncClient(base_url=url, timeout=60) as client,
    ):
        # Warm up: the first requests build what lives as long as the process.
        for _ in range(3):
            await client.post("/api/v1/things", content=pattern(MIB))
            await client.get("/api/v1/things/download", params={"size": MIB})
        yield client, pid


class TestLargeBodies:
    async def test_a_64_mib_upload_streams_through_in_pieces(
        self, served: tuple[httpx.AsyncClient, int]
    ) -> None:
        client, pid = served
        before = peak_rss(pid)

        response = await client.post(
            "/api/v1/things/upload",
            content=pattern(SIZE),
            headers={"Content-Length": str(SIZE), "Content-Type": "application/octet-stream"},
        )

        echo = response.json()
        assert (echo["body_size"], echo["body_sha256"]) == (SIZE, pattern_digest(SIZE))
        assert [v for k, v in echo["headers"] if k == "content-length"] == [str(SIZE)]
        assert echo["body_pieces"] > 64  # it arrived as it was sent, not in one piece
        assert peak_rss(pid) - before < MAX_GROWTH

    async def test_a_64_mib_download_streams_through_unchanged(
        self, served: tuple[httpx.AsyncClient, int]
    ) -> None:
        client, pid = served
        before = peak_rss(pid)
        digest = hashlib.sha256()
        pieces = 0

        async with client.stream(
            "GET",
            "/api/v1/things/download",
            params={"size": SIZE},
            headers={"Accept-Encoding": "gzip"},
        ) as response:
            async for piece in response.aiter_raw():
                digest.update(piece)
                pieces += 1

        assert response.status_code == 200
        # As the upstream made it: its length, and not compressed by the gateway.
        assert response.headers["content-length"] == str(SIZE)
        assert "content-encoding" not in response.headers
        assert digest.hexdigest() == pattern_digest(SIZE)
        assert pieces > 64
        assert peak_rss(pid) - before < MAX_GROWTH

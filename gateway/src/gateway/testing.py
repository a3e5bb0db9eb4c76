"""A small upstream service for the gateway's tests (and benchmarks), as a raw ASGI app served
by uvicorn on loopback: it echoes what it received (method, path, query, headers, a digest of
the body, in how many pieces it came), and on a few paths answers slowly, streams a large
body, streams forever, or sends hop-by-hop headers; `/health/ready` answers as a service's
readiness does (ok, or the status and code the test sets), after the delay the test sets,
and counts the calls. What it saw of the streams it served is
kept for the tests to read."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from urllib.parse import parse_qs

from starlette.types import Receive, Scope, Send

from common.testing import serve_app

PIECE = 64 * 1024


def pattern(size: int) -> AsyncIterator[bytes]:
    """`size` bytes in pieces of 64 KiB, made as they are asked for (never all at once)."""

    async def pieces() -> AsyncIterator[bytes]:
        block = bytes(range(256)) * (PIECE // 256)
        left = size
        while left > 0:
            yield block[: min(left, PIECE)]
            left -= PIECE

    return pieces()


def pattern_digest(size: int) -> str:
    block = bytes(range(256)) * (PIECE // 256)
    digest = hashlib.sha256()
    left = size
    while left > 0:
        digest.update(block[: min(left, PIECE)])
        left -= PIECE
    return digest.hexdigest()


async def _until_disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


@dataclass
class EchoUpstream:
    name: str
    open_streams: int = 0
    streams_ended: int = 0
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    # `/health/ready`: what it answers, after how long, how often it was asked.
    ready_status: str = "ok"
    ready_code: int = 200
    ready_delay: float = 0.0
    ready_calls: int = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return  # lifespan: nothing to start
        query = {k: v[0] for k, v in parse_qs(scope["query_string"].decode()).items()}
        last = scope["path"].rsplit("/", 1)[-1]
        if scope["path"] == "/health/ready":
            await self._ready(receive, send)
        elif last == "slow":
            await self._slow(float(query["seconds"]), scope, receive, send)
        elif last == "download":
            await self._download(int(query["size"]), send)
        elif last == "endless":
            await self._endless(receive, send)
        elif last == "hop-by-hop":
            await self._hop_by_hop(send)
        else:
            await self._echo(scope, receive, send)

    async def _ready(self, receive: Receive, send: Send) -> None:
        self.ready_calls += 1
        if self.ready_delay:
            # Gives up as soon as the gateway hangs up, so the server stops promptly.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(_until_disconnected(receive), self.ready_delay)
                return
        body = json.dumps({"status": self.ready_status, "checks": {"database": "ok"}}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": self.ready_code,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def _body_digest(self, receive: Receive) -> tuple[int, str, int]:
        digest = hashlib.sha256()
        size = pieces = 0
        while True:
            message = await receive()
            chunk = message.get("body", b"")
            if chunk:
                digest.update(chunk)
                size += len(chunk)
                pieces += 1
            if not message.get("more_body", False):
                return size, digest.hexdigest(), pieces

    async def _echo(self, scope: Scope, receive: Receive, send: Send) -> None:
        size, digest, pieces = await self._body_digest(receive)
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        body = json.dumps(
            {
                "upstream": self.name,
                "method": scope["method"],
                "path": scope["path"],
                "raw_path": scope["raw_path"].decode("latin-1"),
                "query_string": scope["query_string"].decode("latin-1"),
                "headers": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in headers],
                "body_size": size,
                "body_sha256": digest,
                "body_pieces": pieces,
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"x-upstream", self.name.encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def _slow(self, seconds: float, scope: Scope, receive: Receive, send: Send) -> None:
        # Gives up as soon as the gateway hangs up, so the server stops promptly.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(_until_disconnected(receive), seconds)
            return
        await self._echo(scope, receive, send)

    async def _download(self, size: int, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"application/octet-stream"),
                    (b"content-length", str(size).encode()),
                ],
            }
        )
        async for piece in pattern(size):
            await send({"type": "http.response.body", "body": piece, "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    async def _endless(self, receive: Receive, send: Send) -> None:
        """64 KiB pieces until the gateway hangs up (uvicorn's `send` would go on in silence)."""
        self.open_streams += 1
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/octet-stream")],
            }
        )

        async def produce() -> None:
            async for piece in pattern(1 << 40):
                await send({"type": "http.response.body", "body": piece, "more_body": True})
                await asyncio.sleep(0.005)

        producing = asyncio.ensure_future(produce())
        watching = asyncio.ensure_future(_until_disconnected(receive))
        try:
            await asyncio.wait((producing, watching), return_when=asyncio.FIRST_COMPLETED)
        finally:
            producing.cancel()
            watching.cancel()
            await asyncio.gather(producing, watching, return_exceptions=True)
            self.open_streams -= 1
            self.streams_ended += 1
            self.ended.set()

    async def _hop_by_hop(self, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 201,
                "headers": [
                    (b"content-type", b"text/plain"),
                    (b"content-length", b"2"),
                    (b"Connection", b"X-Private"),
                    (b"X-Private", b"not for the client"),
                    (b"Keep-Alive", b"timeout=5"),
                    (b"Proxy-Authenticate", b"Basic"),
                    (b"Trailer", b"X-Checksum"),
                    (b"Upgrade", b"h2c"),
                    (b"Set-Cookie", b"a=1; Path=/"),
                    (b"Set-Cookie", b"b=2; Path=/"),
                    (b"X-End-To-End", b"kept"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": b"ok"})


@asynccontextmanager
async def serve_upstream(name: str) -> AsyncIterator[tuple[EchoUpstream, str]]:
    upstream = EchoUpstream(name)
    async with serve_app(upstream) as url:
        yield upstream, url


@asynccontextmanager
async def hanging_up_server(*, after: bytes = b"", stall: float = 0.0) -> AsyncIterator[str]:
    """A TCP server that reads the request's head, writes `after` (nothing: not a word; the
    head of an answer and part of its body: an answer broken off), waits up to `stall` seconds
    (less if the gateway hangs up first) and closes the connection."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError, TimeoutError):
            await reader.readuntil(b"\r\n\r\n")
            writer.write(after)
            await writer.drain()
            await asyncio.wait_for(reader.read(), stall)
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()
        await server.wait_closed()

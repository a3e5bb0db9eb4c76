"""The load generator: `python -m bench.loadgen < spec.json > result.json`.

Why not httpx: its per-request overhead (~0.3 ms of Python) would make the client, not the
server, the bottleneck on a two-core machine where a trivial route serves ~7,000 req/s. Why not
wrk: CI and new machines do not have it. So this is a minimal HTTP/1.1 keep-alive client on
asyncio streams and uvloop: it writes pre-built requests and reads answers by Content-Length (or
chunked framing), which costs a few tens of microseconds per request. It reports its own CPU
use, the server's and the whole machine's over the measured window, so a reader can see when
the client was the one short of CPU.

Latency is measured from writing the request to reading the last byte of the answer.
"""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import dataclass

import uvloop

from bench import cpu
from bench.spec import LoadResult, LoadSpec, Stream, StreamResult

TRANSPORT_ERRORS = (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError)


@dataclass(frozen=True, slots=True)
class Window:
    """The measured interval in `time.perf_counter()` seconds, after the warm-up."""

    start: float
    end: float

    def contains(self, instant: float) -> bool:
        return self.start <= instant <= self.end


async def _read_chunked(reader: asyncio.StreamReader) -> None:
    while True:
        size_line = await reader.readuntil(b"\r\n")
        size = int(size_line.split(b";", 1)[0], 16)
        await reader.readexactly(size + 2)
        if size == 0:
            return


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """Read one answer; return its status and whether the server will close the connection."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    chunked = close = False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
        elif name == b"connection":
            close = b"close" in value.lower()
    if chunked:
        await _read_chunked(reader)
    elif length:
        await reader.readexactly(length)
    return status, close


class StreamRunner:
    """The connections of one stream and what they measured."""

    def __init__(self, spec: LoadSpec, stream: Stream, window: Window) -> None:
        self.spec = spec
        self.stream = stream
        self.window = window
        self.result = StreamResult(name=stream.name)
        self.requests = [request.encode() for request in stream.requests]
        self.ok = frozenset(stream.ok_statuses)
        self.tolerated = frozenset(stream.tolerated_statuses)

    def _count(self, key: str) -> None:
        self.result.statuses[key] = self.result.statuses.get(key, 0) + 1

    def _record(self, status: int, started: float, finished: float) -> None:
        if not self.window.contains(finished):
            return
        self._count(str(status))
        if status in self.ok:
            self.result.ok += 1
            self.result.latencies_ms.append((finished - started) * 1000.0)
        elif status in self.tolerated:
            self.result.tolerated += 1
        else:
            self.result.errors += 1

    def _record_error(self, exc: BaseException) -> None:
        if self.window.contains(time.perf_counter()):
            self.result.errors += 1
            self._count(type(exc).__name__)

    async def connection(self, index: int) -> None:
        position = index % len(self.requests)
        interval = self.stream.interval
        # Spread paced probes over one interval so they do not all fire together.
        next_send = time.perf_counter() + (
            interval * index / self.stream.connections if interval else 0
        )
        writer: asyncio.StreamWriter | None = None
        reader: asyncio.StreamReader | None = None
        while time.perf_counter() < self.window.end:
            if interval is not None:
                delay = next_send - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                next_send = max(next_send + interval, time.perf_counter())
            request = self.requests[position]
            position = (position + 1) % len(self.requests)
            try:
                async with asyncio.timeout(self.stream.timeout):
                    if writer is None or reader is None:
                        reader, writer = await asyncio.open_connection(
                            self.spec.host, self.spec.port
                        )
                    started = time.perf_counter()
                    writer.write(request)
                    status, close = await read_response(reader)
            except (TimeoutError, *TRANSPORT_ERRORS) as exc:
                self._record_error(exc)
                if writer is not None:
                    writer.close()
                writer = reader = None
                continue
            self._record(status, started, time.perf_counter())
            if close:
                writer.close()
                writer = reader = None
        if writer is not None:
            writer.close()

    async def run(self) -> StreamResult:
        await asyncio.gather(*(self.connection(i) for i in range(self.stream.connections)))
        return self.result


async def generate(spec: LoadSpec) -> LoadResult:
    start = time.perf_counter() + spec.warmup
    window = Window(start, start + spec.duration)
    runners = [StreamRunner(spec, stream, window) for stream in spec.streams]
    tasks = [asyncio.create_task(runner.run()) for runner in runners]
    await asyncio.sleep(max(0.0, window.start - time.perf_counter()))
    groups = {"server": [spec.server_pid]} if spec.server_pid is not None else {}
    before = cpu.snapshot(groups, spec.database_name)
    await asyncio.sleep(max(0.0, window.end - time.perf_counter()))
    after = cpu.snapshot(groups, spec.database_name)
    # Requests still in flight at the end answer outside the window and are not counted; a
    # connection stuck on a slow answer is given its timeout, no more.
    results = await asyncio.gather(*tasks)
    return LoadResult(duration=spec.duration, streams=list(results), cpu=cpu.usage(before, after))


def main() -> None:
    spec = LoadSpec.model_validate_json(sys.stdin.read())
    result = uvloop.run(generate(spec))
    sys.stdout.write(result.model_dump_json())


if __name__ == "__main__":
    main()

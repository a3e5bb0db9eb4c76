"""What the orchestrator asks of the load generator and what it answers.

The two run in separate processes (the generator must not share a core's time slices or a GIL
with the code that starts servers), so the contract is JSON on stdin and stdout; pydantic
models keep both sides typed and validated.
"""

from __future__ import annotations

from pydantic import BaseModel, Field


class Stream(BaseModel):
    """A group of keep-alive connections sending one kind of request.

    Connection `i` starts at `requests[i % len(requests)]` and walks the list, so a list of
    per-user requests spreads the users over the connections. With `interval` unset a
    connection sends its next request as soon as the answer arrives (closed loop, the way wrk
    works); with it set the connection paces itself like a health probe.
    """

    name: str
    connections: int = Field(ge=1)
    requests: list[str] = Field(min_length=1)
    ok_statuses: list[int] = Field(default_factory=lambda: [200])
    tolerated_statuses: list[int] = Field(default_factory=list)
    interval: float | None = Field(default=None, gt=0)
    timeout: float = Field(default=10.0, gt=0)


class LoadSpec(BaseModel):
    host: str = "127.0.0.1"
    port: int
    warmup: float = Field(ge=0)
    duration: float = Field(gt=0)
    streams: list[Stream] = Field(min_length=1)
    server_pid: int | None = None
    database_name: str | None = None


class StreamResult(BaseModel):
    """Requests whose answer arrived inside the measured window (warm-up answers are dropped)."""

    name: str
    ok: int = 0
    tolerated: int = 0
    errors: int = 0
    statuses: dict[str, int] = Field(default_factory=dict)
    latencies_ms: list[float] = Field(default_factory=list)


class LoadResult(BaseModel):
    duration: float
    streams: list[StreamResult]
    cpu: dict[str, float] = Field(description="cores over the window, by `bench.cpu.usage`")

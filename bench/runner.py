"""Running load phases against a server: one load-generator process per phase round, with the
candidates of a benchmark interleaved round by round (A B, B A, A B, ...).

Interleaving is what makes "side by side" hold on a shared machine: a slow spell (another
engineer's test run, a noisy neighbour) lands on both candidates instead of skewing one, and
the round-to-round spread shows how large such spells were.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from bench.servers import Server
from bench.spec import LoadResult, LoadSpec, Stream
from bench.stats import Measurement, Round

GRACE_SECONDS = 30.0


class LoadFailed(RuntimeError):
    """The load-generator process failed."""


@dataclass(frozen=True, slots=True)
class Phase:
    """One candidate's load: the streams that run together, and the warm-up they need."""

    name: str
    streams: Sequence[Stream]
    warmup: float = 1.0


@dataclass(frozen=True, slots=True)
class Options:
    """How long to measure, and settings added to every benched server (`--server-env`), so
    a setting can be tried without touching code (e.g. PASSWORD_HASH_CONCURRENCY=1)."""

    rounds: int
    duration: float
    server_env: Mapping[str, str] = field(default_factory=dict)

    def describe(self) -> list[str]:
        lines = [f"{self.rounds} interleaved rounds of {self.duration:g} s per candidate"]
        if self.server_env:
            pairs = ", ".join(f"{k}={v}" for k, v in sorted(self.server_env.items()))
            lines.append(f"extra server settings (--server-env): {pairs}")
        return lines


async def run_load(spec: LoadSpec) -> LoadResult:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.loadgen",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    limit = spec.warmup + spec.duration + max(s.timeout for s in spec.streams) + GRACE_SECONDS
    try:
        out, err = await asyncio.wait_for(
            process.communicate(spec.model_dump_json().encode()), timeout=limit
        )
    except TimeoutError as exc:
        process.kill()
        await process.wait()
        raise LoadFailed(f"load generator did not finish within {limit:.0f} s") from exc
    if process.returncode != 0:
        raise LoadFailed(f"load generator exited with {process.returncode}:\n{err.decode()}")
    return LoadResult.model_validate_json(out)


def _progress(server: Server, phase: Phase, index: int, result: LoadResult) -> None:
    parts = []
    for stream in result.streams:
        rnd = Round(stream=stream, duration=result.duration, cpu=result.cpu)
        parts.append(f"{stream.name} {rnd.rps:,.0f} req/s p99 {rnd.p99:.1f} ms err {stream.errors}")
    cpu = result.cpu
    server_cpu = f"{cpu.server:.2f}" if cpu.server is not None else "?"
    db_cpu = f"{cpu.database:.2f}" if cpu.database is not None else "-"
    sys.stderr.write(
        f"  [{server.name}] round {index + 1} {phase.name}: {'; '.join(parts)}"
        f" | cores: client {cpu.client:.2f} server {server_cpu} db {db_cpu}"
        f" other {cpu.other:.2f}\n"
    )


async def run_interleaved(
    server: Server, phases: Sequence[Phase], options: Options, *, database: str | None = None
) -> dict[str, dict[str, Measurement]]:
    """Run every phase `options.rounds` times, alternating the order each round; return the
    pooled measurement of every stream, by phase name and stream name. `database` names the
    database whose PostgreSQL backends' CPU is reported apart."""
    measured: dict[str, dict[str, Measurement]] = {
        phase.name: {s.name: Measurement(f"{phase.name}/{s.name}") for s in phase.streams}
        for phase in phases
    }
    for index in range(options.rounds):
        order = list(phases) if index % 2 == 0 else list(reversed(phases))
        for phase in order:
            spec = LoadSpec(
                port=server.port,
                warmup=phase.warmup,
                duration=options.duration,
                streams=list(phase.streams),
                server_pid=server.pid,
                database_name=database,
            )
            result = await run_load(spec)
            _progress(server, phase, index, result)
            for stream in result.streams:
                measured[phase.name][stream.name].rounds.append(
                    Round(stream=stream, duration=result.duration, cpu=result.cpu)
                )
    return measured

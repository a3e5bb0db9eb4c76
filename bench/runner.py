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

from bench.servers import REPO_ROOT, Server
from bench.spec import LoadResult, LoadSpec, Stream
from bench.stats import Measurement, Round, pool

GRACE_SECONDS = 30.0


class LoadFailed(RuntimeError):
    """The load-generator process failed."""


@dataclass(frozen=True, slots=True)
class Phase:
    """One candidate's load: the streams that run together, the warm-up they need, and its own
    server when the candidates of a benchmark run on different servers."""

    name: str
    streams: Sequence[Stream]
    warmup: float = 1.0
    server: Server | None = None


@dataclass(frozen=True, slots=True)
class Options:
    """How long to measure, settings added to every benched server (`--server-env`, so a
    setting can be tried without touching code, e.g. PASSWORD_HASH_CONCURRENCY=1), and `scale`
    (`--scale`): the fraction of the standard warm-ups and set-up sizes (users, audit events),
    below 1 only for smoke runs, whose numbers compare with nothing."""

    rounds: int
    duration: float
    server_env: Mapping[str, str] = field(default_factory=dict)
    scale: float = 1.0

    def scaled(self, amount: float) -> float:
        return amount * self.scale

    def count(self, amount: int) -> int:
        return max(1, round(amount * self.scale))

    def describe(self) -> list[str]:
        lines = [f"{self.rounds} interleaved rounds of {self.duration:g} s per candidate"]
        if self.server_env:
            pairs = ", ".join(f"{k}={v}" for k, v in sorted(self.server_env.items()))
            lines.append(f"extra server settings (--server-env): {pairs}")
        if self.scale != 1:
            lines.append(f"scale {self.scale:g} (--scale): a smoke run, not comparable")
        return lines


async def run_load(spec: LoadSpec) -> LoadResult:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.loadgen",
        cwd=REPO_ROOT,
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
    cores = " ".join(f"{name} {value:.2f}" for name, value in result.cpu.items())
    sys.stderr.write(
        f"  [{server.name}] round {index + 1} {phase.name}: {'; '.join(parts)} | cores: {cores}\n"
    )


async def run_interleaved(
    server: Server, phases: Sequence[Phase], options: Options, *, database: str | None = None
) -> dict[str, dict[str, Measurement]]:
    """Run every phase `options.rounds` times, alternating the order each round; return the
    pooled measurement of every stream, by phase name and stream name. `database` names the
    database whose PostgreSQL backends' CPU is reported apart."""
    rounds: dict[str, dict[str, list[Round]]] = {
        phase.name: {s.name: [] for s in phase.streams} for phase in phases
    }
    for index in range(options.rounds):
        for phase in phases if index % 2 == 0 else list(reversed(phases)):
            target = phase.server or server
            spec = LoadSpec(
                port=target.port,
                warmup=options.scaled(phase.warmup),
                duration=options.duration,
                streams=list(phase.streams),
                server_pid=target.pid,
                database_name=database,
            )
            result = await run_load(spec)
            _progress(target, phase, index, result)
            for stream in result.streams:
                rounds[phase.name][stream.name].append(
                    Round(stream=stream, duration=result.duration, cpu=result.cpu)
                )
    return {
        phase: {name: pool(f"{phase}/{name}", got) for name, got in streams.items()}
        for phase, streams in rounds.items()
    }

"""CPU accounting over a measured window, from /proc (Linux only, like the servers we bench).

On two cores the load generator, the server, PostgreSQL and anything else running (another
engineer's test suite) compete for the same CPU. Recording the client's, the server's, the
PostgreSQL backends' of the benchmark's own database and the whole machine's use tells a reader
whether the numbers are the server's limit or the client's, and whether something else ("other":
the machine minus those three) was eating the machine.
"""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, slots=True)
class Snapshot:
    wall: float
    client: float
    server: float | None
    database: dict[int, float]
    machine_busy: float
    cores: int


@dataclass(frozen=True, slots=True)
class Usage:
    """Cores used on average (1.0 = one core fully busy)."""

    client: float
    server: float | None
    database: float | None
    machine: float
    cores: int


def process_seconds(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    # Fields 14 and 15 of proc(5) (utime, stime), counted after the ")" that ends the name.
    return (int(fields[11]) + int(fields[12])) / _TICKS


def _command_lines() -> Iterator[tuple[int, bytes]]:
    """`(pid, raw command line)` of every process still there while it is read."""
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/cmdline", "rb") as cmdline:
                yield int(entry.name), cmdline.read()
        except OSError:
            continue


def _database_backends(database: str | None) -> dict[int, float]:
    """CPU seconds of each PostgreSQL backend serving `database`, found by the process title
    PostgreSQL gives its backends ("postgres: <cluster>: <user> <database> <client> ...")."""
    if database is None:
        return {}
    needle = f" {database} ".encode()
    backends: dict[int, float] = {}
    for pid, title in _command_lines():
        if title.startswith(b"postgres: ") and needle in title:
            seconds = process_seconds(pid)
            if seconds is not None:
                backends[pid] = seconds
    return backends


def _machine_busy() -> tuple[float, int]:
    with open("/proc/stat", encoding="ascii") as stat:
        lines = stat.read().splitlines()
    total = [int(v) for v in lines[0].split()[1:]]
    idle = total[3] + total[4]  # idle + iowait
    cores = sum(1 for line in lines if line.startswith("cpu") and line[3].isdigit())
    return (sum(total[:8]) - idle) / _TICKS, cores


def snapshot(server_pid: int | None, database: str | None) -> Snapshot:
    own = resource.getrusage(resource.RUSAGE_SELF)
    busy, cores = _machine_busy()
    return Snapshot(
        wall=time.perf_counter(),
        client=own.ru_utime + own.ru_stime,
        server=process_seconds(server_pid) if server_pid is not None else None,
        database=_database_backends(database),
        machine_busy=busy,
        cores=cores,
    )


def usage(before: Snapshot, after: Snapshot) -> Usage:
    wall = max(after.wall - before.wall, 1e-9)
    server = None
    if before.server is not None and after.server is not None:
        server = (after.server - before.server) / wall
    database = None
    if after.database:
        # A backend that started inside the window counts from zero.
        used = sum(sec - before.database.get(pid, 0.0) for pid, sec in after.database.items())
        database = used / wall
    return Usage(
        client=(after.client - before.client) / wall,
        server=server,
        database=database,
        machine=(after.machine_busy - before.machine_busy) / wall,
        cores=after.cores,
    )


# --- Several processes at once (a pipeline of processes rather than one server) ---------------

# Titles of PostgreSQL's own processes (postmaster, WAL writer, checkpointer, ...): the work a
# write-heavy benchmark causes there is not done by its backends, so it is shown apart instead of
# counting as "other".
_POSTGRES_BACKGROUND = (
    b"checkpointer",
    b"background writer",
    b"walwriter",
    b"autovacuum",
    b"logical replication",
    b"archiver",
    b"stats collector",
)


def find_processes(*, postgres_background: bool = False, prefix: bytes | None = None) -> list[int]:
    """Pids of running processes: PostgreSQL's own (not its client backends) when
    `postgres_background`, and those whose command line starts with `prefix`."""
    found = []
    for pid, title in _command_lines():
        program = title.split(b"\0", 1)[0]
        is_postmaster = program.endswith(b"/postgres") or program == b"postgres"
        is_background = title.startswith(b"postgres: ") and any(
            name in title for name in _POSTGRES_BACKGROUND
        )
        if (postgres_background and (is_postmaster or is_background)) or (
            prefix is not None and title.startswith(prefix)
        ):
            found.append(pid)
    return found


@dataclass(frozen=True, slots=True)
class GroupSnapshot:
    wall: float
    own: float
    groups: dict[str, float]
    database: dict[int, float]
    machine_busy: float
    steal: float


def _steal() -> float:
    """CPU seconds the hypervisor gave to other guests while this one wanted to run (the 8th
    value of the `cpu` line of /proc/stat; `_machine_busy` counts it as busy)."""
    with open("/proc/stat", encoding="ascii") as stat:
        return int(stat.readline().split()[8]) / _TICKS


def group_snapshot(groups: Mapping[str, Sequence[int]], database: str | None) -> GroupSnapshot:
    """CPU seconds so far of this process, of each named group of pids, of the backends of
    `database` and of the whole machine."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    busy, _ = _machine_busy()
    return GroupSnapshot(
        wall=time.perf_counter(),
        own=own.ru_utime + own.ru_stime,
        groups={
            name: sum(process_seconds(pid) or 0.0 for pid in pids) for name, pids in groups.items()
        },
        database=_database_backends(database),
        machine_busy=busy,
        steal=_steal(),
    )


def group_usage(before: GroupSnapshot, after: GroupSnapshot) -> dict[str, float]:
    """Cores used between two snapshots: "self" (this process), each group, "db" (the backends
    of the database, including those started in between), "steal" (taken by the hypervisor: a
    busy host slows everything without any process here using more) and "other" (the machine
    minus all of them, clamped at zero as in `CpuUse.other`)."""
    wall = max(after.wall - before.wall, 1e-9)
    used = {"self": (after.own - before.own) / wall}
    for name, seconds in after.groups.items():
        used[name] = (seconds - before.groups.get(name, 0.0)) / wall
    database = sum(sec - before.database.get(pid, 0.0) for pid, sec in after.database.items())
    used["db"] = database / wall
    used["steal"] = (after.steal - before.steal) / wall
    machine = (after.machine_busy - before.machine_busy) / wall
    used["other"] = max(machine - sum(used.values()), 0.0)
    return used

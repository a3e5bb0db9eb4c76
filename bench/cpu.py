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


def _process_seconds(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    # Fields 14 and 15 of proc(5) (utime, stime), counted after the ")" that ends the name.
    return (int(fields[11]) + int(fields[12])) / _TICKS


def _database_backends(database: str | None) -> dict[int, float]:
    """CPU seconds of each PostgreSQL backend serving `database`, found by the process title
    PostgreSQL gives its backends ("postgres: <cluster>: <user> <database> <client> ...")."""
    if database is None:
        return {}
    needle = f" {database} ".encode()
    backends: dict[int, float] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/cmdline", "rb") as cmdline:
                title = cmdline.read()
        except OSError:
            continue
        if title.startswith(b"postgres: ") and needle in title:
            seconds = _process_seconds(int(entry.name))
            if seconds is not None:
                backends[int(entry.name)] = seconds
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
        server=_process_seconds(server_pid) if server_pid is not None else None,
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

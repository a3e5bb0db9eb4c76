"""CPU accounting over a measured window, from /proc (Linux only, like the servers we bench).

On two cores the load generator, the servers, PostgreSQL and anything else running (another
engineer's test suite) compete for the same CPU. Recording this process's use, each benched
process's, the PostgreSQL backends' of the benchmark's own database, the hypervisor's steal and
the rest of the machine tells a reader whether the numbers are the server's limit or the
client's, and whether something else was eating the machine.
"""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

_TICKS = os.sysconf("SC_CLK_TCK")
# Titles of PostgreSQL's own processes (postmaster, WAL writer, checkpointer, ...): the work a
# write-heavy benchmark causes there is not done by its backends, so it can be shown apart.
_POSTGRES_BACKGROUND: tuple[bytes, ...] = (b"checkpointer", b"background writer", b"walwriter")
_POSTGRES_BACKGROUND += (b"autovacuum", b"logical replication", b"archiver", b"stats collector")


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


def _database_backends(database: str) -> dict[int, float]:
    """CPU seconds of each PostgreSQL backend serving `database`, found by the process title
    PostgreSQL gives its backends ("postgres: <cluster>: <user> <database> <client> ...")."""
    needle = f" {database} ".encode()
    backends: dict[int, float] = {}
    for pid, title in _command_lines():
        if title.startswith(b"postgres: ") and needle in title:
            seconds = process_seconds(pid)
            if seconds is not None:
                backends[pid] = seconds
    return backends


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
class Snapshot:
    wall: float
    own: float
    groups: dict[str, float]
    database: dict[int, float] | None
    machine_busy: float
    steal: float


def snapshot(groups: Mapping[str, Sequence[int]], database: str | None = None) -> Snapshot:
    """CPU seconds so far of this process, of each named group of pids, of the backends of
    `database` and of the whole machine (busy and, apart, the hypervisor's steal: the 8th value
    of the `cpu` line of /proc/stat, time this virtual machine wanted to run and the host ran
    someone else)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    with open("/proc/stat", encoding="ascii") as stat:
        total = [int(v) for v in stat.readline().split()[1:]]
    idle = total[3] + total[4]  # idle + iowait
    return Snapshot(
        wall=time.perf_counter(),
        own=own.ru_utime + own.ru_stime,
        groups={
            name: sum(process_seconds(pid) or 0.0 for pid in pids) for name, pids in groups.items()
        },
        database=_database_backends(database) if database is not None else None,
        machine_busy=(sum(total[:8]) - idle) / _TICKS,
        steal=total[7] / _TICKS,
    )


def usage(before: Snapshot, after: Snapshot) -> dict[str, float]:
    """Cores used between two snapshots (1.0 = one core fully busy): "self" (this process),
    each group, "db" (the backends of the database, including those started in between; absent
    without a database), "steal" (a busy host slows everything without any process here using
    more) and "other" (the machine minus all of them, clamped at zero: /proc/stat counts in
    10 ms ticks, so an idle rest can come out slightly negative)."""
    wall = max(after.wall - before.wall, 1e-9)
    used = {"self": (after.own - before.own) / wall}
    for name, seconds in after.groups.items():
        used[name] = (seconds - before.groups.get(name, 0.0)) / wall
    if after.database is not None and before.database is not None:
        used["db"] = sum(s - before.database.get(p, 0.0) for p, s in after.database.items()) / wall
    used["steal"] = (after.steal - before.steal) / wall
    machine = (after.machine_busy - before.machine_busy) / wall
    used["other"] = max(machine - sum(used.values()), 0.0)
    return used

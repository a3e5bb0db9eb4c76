"""bench/RESULTS.md: a fixed preamble (how and why we measure this way), then one section per
benchmark between markers. A run rewrites only the sections of the benchmarks it ran, so
`python -m bench token-check` leaves the others' latest results (and their commands) alone.
"""

from __future__ import annotations

import os
import platform
import re
import subprocess
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from bench.report import Report, render_markdown
from bench.servers import REPO_ROOT

RESULTS_PATH = Path(__file__).resolve().parent / "RESULTS.md"
_SECTION = re.compile(
    r"<!-- bench:(?P<key>[\w-]+) -->\n(?P<body>.*?)<!-- /bench:(?P=key) -->", re.S
)

PREAMBLE = """# Benchmark results

Written by `python -m bench` (`make bench`); each section below is the latest run of that
benchmark, with the exact command that produced it. Do not edit the sections by hand; see
`bench/README.md` for how to run and extend the benchmarks.

## How these numbers are made

- **Servers**: real uvicorn processes (`--workers 1 --loop uvloop --http httptools
  --no-access-log`) on free loopback ports, started in a scratch directory so no `.env` applies.
  Settings are production's: `ENVIRONMENT=production` (a random 48-character `SECRET_KEY`,
  `TRUSTED_HOSTS=127.0.0.1,localhost`, `MAIL_BACKEND=smtp` with STARTTLS, an https
  `JWT_ISSUER`, `PUBLIC_URL`, `PASSWORD_RESET_URL` and `EMAIL_VERIFICATION_URL` that are only
  names under `.invalid`, JSON logs at INFO), with
  `ACCESS_LOG=false` (a log line per request would measure the log pipe, not the service).
  Metrics, security headers, request ids, GZip and TrustedHost stay on; the database pool is
  the default (10 + 10 overflow).
- **Data**: each benchmark creates its own database `bench_<random>` (all migrations applied,
  dropped at the end) and Redis key prefix `bench:<random>:` (its keys deleted at the end).
- **Load generator**: `bench/loadgen.py`, run as a separate process: a minimal HTTP/1.1
  keep-alive client on asyncio streams and uvloop that writes pre-built requests, closed loop
  (a connection sends its next request when the answer arrives, as wrk does) or paced (the
  health probe). It needs nothing beyond the locked dependencies, so it runs the same on CI and
  on a new machine, where `wrk` is not installed; httpx would cost ~0.3 ms of client CPU per
  request and make the client the bottleneck. Cross-checked by hand on 2026-11-23 against
  Debian's wrk 4.1.0 (`wrk -t1 -c32`) on the auth service's /health in the same minutes: wrk
  2,350-2,376 req/s, this generator 2,102-2,474 req/s; against a bare FastAPI route it drove
  6,900-7,130 req/s with 0.47 of a core, so it is not the limit at these rates.
- **Is the client the bottleneck?** Every row shows the CPU used over the measured window, in
  cores: the load generator's ("client"), the server process's including its threads (argon2
  runs there), the PostgreSQL backends of the benchmark's database ("db"), and everything else
  on the machine ("other": another engineer's test run shows up here; above ~0.3 the run was
  disturbed). The server has one event loop, so a server near 1.0 with the client well below
  it means the server is the limit.
- **Side by side**: the candidates of a benchmark alternate round by round (A B, B A, A B) in
  one run, each round a fresh load-generator process with its own warm-up; pooled numbers are
  over all rounds and the "per round" columns give the min-max spread. Latency is
  write-to-last-byte of successful answers; errors are transport failures and unexpected
  statuses (a deliberate 429 is counted apart).
- **Pipelines** (`audit-ingestion`): worker processes (`python -m ...`) start like the servers,
  in the scratch directory with the same production settings; the benchmark process is the
  producer and the observer, and its tables count events and per-process CPU instead of requests.
"""


def _context() -> list[str]:
    def git(*args: str) -> str:
        done = subprocess.run(  # noqa: S603 (fixed git arguments)
            ["git", *args],  # noqa: S607 (git from PATH, as a developer runs it)
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        return done.stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = " (uncommitted changes present)" if git("status", "--porcelain") else ""
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return [
        f"date: {date}; commit {commit}{dirty}",
        f"machine: {os.cpu_count()} cores ({model}), {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}; load average at start {load}",
    ]


def write_results(reports: Sequence[Report], *, command: str, order: Sequence[str]) -> Path:
    existing = RESULTS_PATH.read_text() if RESULTS_PATH.exists() else ""
    sections = {m["key"]: m["body"] for m in _SECTION.finditer(existing)}
    context = _context()
    for report in reports:
        sections[report.key] = render_markdown(report, command=command, context=context) + "\n"
    parts = [PREAMBLE]
    for key in order:
        body = sections.get(key, f"## {key}\n\nNot run yet: `uv run python -m bench {key}`.\n")
        parts.append(f"<!-- bench:{key} -->\n{body}<!-- /bench:{key} -->\n")
    RESULTS_PATH.write_text("\n".join(parts))
    return RESULTS_PATH

"""bench/RESULTS.md: a preamble (how and why we measure this way, edited by hand), then one
section per benchmark between markers. A run rewrites only the sections of the benchmarks it ran, so
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

# What comes before the first section (how and why we measure this way) is prose kept in the
# file itself; a file that does not exist yet starts with this.
DEFAULT_PREAMBLE = """# Benchmark results

Written by `python -m bench` (`make bench`); see `bench/README.md` for how to run them.
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
    preamble = existing.split("<!-- bench:", 1)[0].rstrip("\n") + "\n" if existing else ""
    parts = [preamble or DEFAULT_PREAMBLE]
    for key in order:
        body = sections.get(key, f"## {key}\n\nNot run yet: `uv run python -m bench {key}`.\n")
        parts.append(f"<!-- bench:{key} -->\n{body}<!-- /bench:{key} -->\n")
    RESULTS_PATH.write_text("\n".join(parts))
    return RESULTS_PATH

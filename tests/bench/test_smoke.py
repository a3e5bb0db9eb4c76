"""Every benchmark runs end to end for about half a second, so the harness cannot rot: real
servers, the load generator, CPU accounting, the report and its verdicts, through the command
line a developer uses. The numbers of a smoke run compare with nothing (`--scale` shortens
warm-ups and set-up); only the shape of each report is checked, and RESULTS.md is left alone.

It runs as its own process, like `python -m bench`: the benchmarks start event loops and
subprocesses of their own, which must not share the test session's loop."""

from __future__ import annotations

import subprocess
import sys

from bench.benchmarks import BENCHMARKS
from bench.results import RESULTS_PATH
from bench.servers import REPO_ROOT

SMOKE = ["--duration", "0.5", "--rounds", "1", "--scale", "0.1", "--no-write"]
VERDICT_WORDS = {"PASS", "MISS", "info"}


def _titles() -> list[str]:
    return [sys.modules[run.__module__].TITLE for run in BENCHMARKS.values()]


def _sections(printed: str) -> dict[str, list[list[str]]]:
    """Each report's printed blocks (runs of non-blank lines), by title."""
    sections: dict[str, list[list[str]]] = {}
    blocks: list[list[str]] = []
    for line in printed.splitlines():
        if line.startswith("== ") and line.endswith(" =="):
            blocks = sections.setdefault(line[3:-3], [[]])
        elif not line.strip():
            blocks.append([])
        elif blocks:
            blocks[-1].append(line)
    return {title: [b for b in found if b] for title, found in sections.items()}


def test_every_benchmark_prints_tables_with_rows_and_verdicts() -> None:
    results_before = RESULTS_PATH.read_text()

    done = subprocess.run(  # noqa: S603 (our own interpreter and arguments)
        [sys.executable, "-m", "bench", *SMOKE],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )

    # 0: every target met, 1: one missed (a smoke run may); 2 or a traceback: it could not run.
    assert done.returncode in (0, 1), done.stderr[-3000:]
    sections = _sections(done.stdout)
    assert list(sections) == _titles()
    for title, blocks in sections.items():
        # A table is its caption, a header line and rows, each indented by two spaces.
        tables = [b for b in blocks if len(b) > 1 and b[1].startswith("  ") and b[1][2] != " "]
        assert tables, title
        assert all(len(table) >= 3 for table in tables), title
        verdicts = [line for b in blocks for line in b if line.split("  ")[0] in VERDICT_WORDS]
        assert verdicts, title
    assert "results written" not in done.stdout
    assert RESULTS_PATH.read_text() == results_before

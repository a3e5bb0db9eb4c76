"""What a benchmark hands back, and how it is printed and written to RESULTS.md.

A report is tables plus verdicts against the issue's targets; the console and the Markdown file
show the same cells. A `Table` holds request streams measured by the load generator (each row
optionally set against its baseline) and has fixed columns; a `Grid` is a table whose columns
and cells the benchmark chooses, for measurements that are not request streams.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from bench.stats import Measurement, Metric


def fmt_rps(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:,.0f}"


def fmt_ms(value: float) -> str:
    if math.isnan(value):
        return "-"
    return f"{value:.2f}" if value < 10 else f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def fmt_ratio(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.2f}"


fmt_cpu = fmt_ratio


def spread(values: Sequence[float], fmt: Callable[[float], str]) -> str:
    """`min - max` of the per-round values: how far apart the rounds of one run were."""
    known = [v for v in values if not math.isnan(v)]
    return f"{fmt(min(known))} - {fmt(max(known))}" if known else "-"


def columns(text: str) -> list[str]:
    """A grid's headers written as a Markdown header: `"phase | produced | ..."`."""
    return text.split(" | ")


HEADERS = columns(
    "candidate | req/s | req/s per round | p50 ms | p99 ms | p99 per round | errors | "
    "vs baseline | CPU cores: client / server / db / other"
)


@dataclass(frozen=True, slots=True)
class Row:
    label: str
    measured: Measurement
    baseline: Row | None = None
    metric: Metric = "rps"
    role: str = "-"  # shown in the "vs baseline" column of a row that has no baseline


@dataclass(frozen=True, slots=True)
class Table:
    caption: str
    rows: Sequence[Row]


@dataclass(frozen=True, slots=True)
class Grid:
    caption: str
    headers: Sequence[str]
    rows: Sequence[Sequence[str]]


@dataclass(frozen=True, slots=True)
class Verdict:
    """`value` against `target`; `passed` None marks a number shown for context only."""

    label: str
    value: str
    rounds: str
    target: str
    passed: bool | None


@dataclass(slots=True)
class Report:
    key: str
    title: str
    setup: list[str]
    tables: list[Table] = field(default_factory=list)
    grids: list[Grid] = field(default_factory=list)
    verdicts: list[Verdict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(v.passed is not False for v in self.verdicts)


def row_cells(row: Row) -> list[str]:
    m = row.measured
    versus = row.role
    if row.baseline is not None:
        base: float = getattr(row.baseline.measured, row.metric)
        ratio = getattr(m, row.metric) / base if base else math.nan
        name = "req/s" if row.metric == "rps" else row.metric
        versus = f"{fmt_ratio(ratio)}x {name} of {row.baseline.label}"
    # "other" includes the hypervisor's steal: whatever slowed the run without being ours.
    other = m.cpu.get("other", math.nan) + m.cpu.get("steal", 0.0)
    cores = [m.cpu.get(k, math.nan) for k in ("self", "server", "db")] + [other]
    return [
        row.label,
        fmt_rps(m.rps),
        spread(m.rps_rounds, fmt_rps),
        fmt_ms(m.p50),
        fmt_ms(m.p99),
        spread(m.p99_rounds, fmt_ms),
        str(m.errors) + (f" (+{m.tolerated} 429)" if m.tolerated else ""),
        versus,
        " / ".join(fmt_cpu(v) for v in cores),
    ]


def _grids(report: Report) -> list[Grid]:
    tables = [Grid(t.caption, HEADERS, [row_cells(r) for r in t.rows]) for t in report.tables]
    return tables + report.grids


def _notes(report: Report) -> list[str]:
    """The report's notes, after what the errors were (status codes, exception names) for
    every row that had some."""
    notes = [
        f"answers of {row.label} ({table.caption}): "
        + ", ".join(f"{k}: {v}" for k, v in sorted(row.measured.statuses.items()))
        for table in report.tables
        for row in table.rows
        if row.measured.errors
    ]
    return notes + report.notes


def _verdict(v: Verdict) -> str:
    word = {True: "PASS", False: "MISS", None: "info"}[v.passed]
    return f"{word}  {v.label} = {v.value} (rounds {v.rounds}); target {v.target}"


def render_text(report: Report) -> str:
    lines = [f"== {report.title} ==", *(f"   {line}" for line in report.setup)]
    for grid in _grids(report):
        rows = [grid.headers, *grid.rows]
        widths = [max(len(row[i]) for row in rows) for i in range(len(grid.headers))]
        lines += ["", grid.caption]
        lines += [
            "  " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows
        ]
    lines += ["", *map(_verdict, report.verdicts), *_notes(report)]
    return "\n".join(lines)


def _md_row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"


def render_markdown(report: Report, *, command: str, context: Sequence[str]) -> str:
    lines = [f"## {report.title}", "", f"Command: `{command}`", ""]
    lines += [f"- {line}" for line in [*context, *report.setup]]
    for grid in _grids(report):
        lines += ["", f"**{grid.caption}**", "", _md_row(grid.headers)]
        lines += [_md_row(["---"] * len(grid.headers)), *map(_md_row, grid.rows)]
    verdicts = [_verdict(v).split("  ", 1) for v in report.verdicts]
    lines += ["", *(f"- **{word}** {rest}" for word, rest in verdicts)]
    lines += [f"- {note}" for note in _notes(report)]
    return "\n".join(lines)

"""What a benchmark hands back, and how it is printed and written to RESULTS.md.

A report is tables of measured candidates (each row optionally set against its baseline) plus
verdicts against the issue's targets. The console and the Markdown file show the same cells.
Measurements that are not request streams (events through a pipeline of processes) come as
`Grid`s: the benchmark chooses the columns and formats the cells, the writers lay them out.
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


def fmt_cpu(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.2f}"


def spread(values: Sequence[float], fmt: Callable[[float], str]) -> str:
    """`min-max` of the per-round values: how far apart the rounds of one run were."""
    known = [v for v in values if not math.isnan(v)]
    if not known:
        return "-"
    return f"{fmt(min(known))} - {fmt(max(known))}"


@dataclass(frozen=True, slots=True)
class Row:
    label: str
    measured: Measurement
    baseline: Row | None = None
    metric: Metric = "rps"
    role: str = "-"  # shown in the "vs baseline" column of a row that has no baseline

    @property
    def ratio(self) -> float:
        if self.baseline is None:
            return math.nan
        base: float = getattr(self.baseline.measured, self.metric)
        return getattr(self.measured, self.metric) / base if base else math.nan

    def cells(self) -> list[str]:
        m = self.measured
        errors = str(m.errors) + (f" (+{m.tolerated} 429)" if m.tolerated else "")
        versus = self.role
        if self.baseline is not None:
            name = "req/s" if self.metric == "rps" else self.metric
            versus = f"{fmt_ratio(self.ratio)}x {name} of {self.baseline.label}"
        return [
            self.label,
            fmt_rps(m.rps),
            spread(m.rps_rounds, fmt_rps),
            fmt_ms(m.p50),
            fmt_ms(m.p99),
            spread(m.p99_rounds, fmt_ms),
            errors,
            versus,
            " / ".join(
                fmt_cpu(v) for v in (m.client_cpu, m.server_cpu, m.database_cpu, m.other_cpu)
            ),
        ]


HEADERS = [
    "candidate",
    "req/s",
    "req/s per round",
    "p50 ms",
    "p99 ms",
    "p99 per round",
    "errors",
    "vs baseline",
    "CPU cores: client / server / db / other",
]


@dataclass(frozen=True, slots=True)
class Table:
    caption: str
    rows: Sequence[Row]


@dataclass(frozen=True, slots=True)
class Grid:
    """A table whose columns and cells the benchmark chooses (already formatted), for
    measurements that the request-oriented `Table` columns would mislabel."""

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

    @property
    def word(self) -> str:
        return {True: "PASS", False: "MISS", None: "info"}[self.passed]

    def line(self) -> str:
        return (
            f"{self.word}  {self.label} = {self.value} (rounds {self.rounds}); target {self.target}"
        )


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


def _text_table(rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]


def _error_notes(report: Report) -> list[str]:
    """What the errors were (status codes, exception names), for every row that had some."""
    notes = []
    for table in report.tables:
        for row in table.rows:
            if row.measured.errors:
                statuses = ", ".join(f"{k}: {v}" for k, v in sorted(row.measured.statuses.items()))
                notes.append(f"answers of {row.label} ({table.caption}): {statuses}")
    return notes


def render_text(report: Report) -> str:
    lines = [f"== {report.title} ==", *(f"   {line}" for line in report.setup)]
    for table in report.tables:
        lines += ["", table.caption]
        lines += ["  " + line for line in _text_table([HEADERS, *(r.cells() for r in table.rows)])]
    for grid in report.grids:
        lines += ["", grid.caption]
        lines += ["  " + line for line in _text_table([grid.headers, *grid.rows])]
    lines += ["", *(v.line() for v in report.verdicts), *_error_notes(report), *report.notes]
    return "\n".join(lines)


def _md_row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"


def render_markdown(report: Report, *, command: str, context: Sequence[str]) -> str:
    lines = [f"## {report.title}", "", f"Command: `{command}`", ""]
    lines += [f"- {line}" for line in [*context, *report.setup]]
    for table in report.tables:
        lines += ["", f"**{table.caption}**", "", _md_row(HEADERS)]
        lines.append(_md_row(["---"] * len(HEADERS)))
        lines += [_md_row(r.cells()) for r in table.rows]
    for grid in report.grids:
        lines += ["", f"**{grid.caption}**", "", _md_row(grid.headers)]
        lines.append(_md_row(["---"] * len(grid.headers)))
        lines += [_md_row(row) for row in grid.rows]
    lines += ["", *(f"- **{v.word}** {v.line()[6:]}" for v in report.verdicts)]
    lines += [f"- {note}" for note in [*_error_notes(report), *report.notes]]
    return "\n".join(lines)

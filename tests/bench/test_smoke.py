"""Every benchmark runs end to end for about half a second, so the harness cannot rot: real
servers, the load generator, CPU accounting, the report and its verdicts. The numbers of a
smoke run compare with nothing (`--scale` shortens warm-ups and set-up); only the shape of the
report is checked, and RESULTS.md is left alone."""

from __future__ import annotations

import pytest

import bench.__main__ as cli
from bench.benchmarks import BENCHMARKS
from bench.report import Report, render_text
from bench.results import RESULTS_PATH

SMOKE = ["--duration", "0.5", "--rounds", "1", "--scale", "0.1", "--no-write"]


def test_every_benchmark_reports_rows_and_verdicts(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    reports: list[Report] = []

    def render(report: Report) -> str:
        reports.append(report)
        return render_text(report)

    monkeypatch.setattr(cli, "render_text", render)
    results_before = RESULTS_PATH.read_text()

    status = cli.main(SMOKE)

    assert status in (0, 1), "2 means a benchmark could not run"  # 1: a target missed
    assert [report.key for report in reports] == list(BENCHMARKS)
    for report in reports:
        assert report.tables or report.grids, report.key
        assert all(table.rows for table in report.tables), report.key
        assert all(grid.rows for grid in report.grids), report.key
        assert report.verdicts, report.key
    printed = capsys.readouterr().out
    assert all(f"== {report.title} ==" in printed for report in reports)
    assert "results written" not in printed
    assert RESULTS_PATH.read_text() == results_before

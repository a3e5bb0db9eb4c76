"""Verdicts against the issue's targets, each with the spread of its per-round values."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

from bench.report import Verdict, fmt_ms, fmt_ratio, fmt_rps, spread
from bench.stats import Measurement, ratio_rounds


def ratio_at_least(
    label: str, measured: Measurement, baseline: Measurement, minimum: float | None
) -> Verdict:
    """Throughput of `measured` over `baseline`; `minimum` None makes it informational."""
    value = measured.rps / baseline.rps
    return Verdict(
        label=label,
        value=fmt_ratio(value),
        rounds=spread(ratio_rounds(measured, baseline, by="rps"), fmt_ratio),
        target=f">= {minimum:.2f}" if minimum is not None else "none (context)",
        passed=value >= minimum if minimum is not None else None,
    )


def p99_ratio_below(
    label: str, measured: Measurement, baseline: Measurement, maximum: float
) -> Verdict:
    value = measured.p99 / baseline.p99
    return Verdict(
        label=label,
        value=fmt_ratio(value),
        rounds=spread(ratio_rounds(measured, baseline, by="p99"), fmt_ratio),
        target=f"< {maximum:.2f}",
        passed=value < maximum,
    )


def rps_at_least(label: str, measured: Measurement, minimum: float) -> Verdict:
    return Verdict(
        label=label,
        value=f"{fmt_rps(measured.rps)} req/s",
        rounds=spread(measured.rps_rounds, fmt_rps),
        target=f">= {fmt_rps(minimum)} req/s",
        passed=measured.rps >= minimum,
    )


def p99_below(label: str, measured: Measurement, maximum_ms: float) -> Verdict:
    return Verdict(
        label=label,
        value=f"{fmt_ms(measured.p99)} ms",
        rounds=spread(measured.p99_rounds, fmt_ms),
        target=f"< {fmt_ms(maximum_ms)} ms",
        passed=measured.p99 < maximum_ms,
    )


def no_errors(label: str, measured: Measurement) -> Verdict:
    tolerated = f" (+{measured.tolerated} deliberate 429)" if measured.tolerated else ""
    return Verdict(
        label=label,
        value=f"{measured.errors} errors{tolerated} in {measured.ok + measured.errors} answers",
        rounds=spread([float(r.stream.errors) for r in measured.rounds], lambda v: f"{v:.0f}"),
        target="0 errors (429 allowed)",
        passed=measured.errors == 0 and measured.ok > 0,
    )


def latency_ratio_within(
    label: str,
    measured: Measurement,
    baseline: Measurement,
    *,
    by: Literal["p50", "p99"],
    tolerance: float,
) -> Verdict:
    """`measured`'s latency percentile over `baseline`'s, within 1 ± `tolerance`."""
    value = getattr(measured, by) / getattr(baseline, by)
    low, high = 1 - tolerance, 1 + tolerance
    return Verdict(
        label=label,
        value=fmt_ratio(value),
        rounds=spread(ratio_rounds(measured, baseline, by=by), fmt_ratio),
        target=f"{low:.2f} - {high:.2f}",
        passed=low <= value <= high,
    )


def value_at_least(
    label: str, value: float, rounds: Sequence[float], minimum: float, *, unit: str
) -> Verdict:
    """A throughput that is not a request stream's (e.g. events through a pipeline)."""
    return Verdict(
        label=label,
        value=f"{fmt_rps(value)} {unit}",
        rounds=spread(rounds, fmt_rps),
        target=f">= {fmt_rps(minimum)} {unit}",
        passed=value >= minimum,
    )


def latency_below(
    label: str, value_ms: float, rounds_ms: Sequence[float], maximum_ms: float, *, missing: int = 0
) -> Verdict:
    """A latency percentile that is not a request stream's; `missing` samples that never
    arrived (their latency is unknown, but not below any bound) fail it."""
    suffix = f", {missing} never seen" if missing else ""
    return Verdict(
        label=label,
        value=f"{fmt_ms(value_ms)} ms{suffix}",
        rounds=spread(rounds_ms, fmt_ms),
        target=f"< {fmt_ms(maximum_ms)} ms",
        passed=value_ms < maximum_ms and missing == 0,
    )


def all_zero(label: str, counts: Mapping[str, int], *, per: Sequence[str], target: str) -> Verdict:
    """Counts that must all be zero, e.g. events lost and duplicated; `per` describes them
    piece by piece (shown where other verdicts show their rounds)."""
    return Verdict(
        label=label,
        value=", ".join(f"{count} {name}" for name, count in counts.items()),
        rounds="; ".join(per) or "-",
        target=target,
        passed=all(count == 0 for count in counts.values()),
    )

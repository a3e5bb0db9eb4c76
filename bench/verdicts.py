"""Verdicts against the issue's targets, each with the spread of its per-round values."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from bench.report import Verdict, fmt_ms, fmt_ratio, fmt_rps, spread
from bench.stats import Measurement, Metric, ratio_rounds


def _ratio(
    label: str,
    measured: Measurement,
    baseline: Measurement,
    *,
    by: Metric,
    target: str,
    test: Callable[[float], bool] | None,
) -> Verdict:
    """`by` of `measured` over `baseline`; `test` None makes it informational."""
    value = getattr(measured, by) / getattr(baseline, by)
    rounds = spread(ratio_rounds(measured, baseline, by=by), fmt_ratio)
    return Verdict(label, fmt_ratio(value), rounds, target, test(value) if test else None)


def ratio_at_least(
    label: str, measured: Measurement, baseline: Measurement, minimum: float | None
) -> Verdict:
    """Throughput of `measured` over `baseline`; `minimum` None makes it informational."""
    if minimum is None:
        return _ratio(label, measured, baseline, by="rps", target="none (context)", test=None)
    target = f">= {minimum:.2f}"
    return _ratio(label, measured, baseline, by="rps", target=target, test=lambda v: v >= minimum)


def p99_ratio_below(
    label: str, measured: Measurement, baseline: Measurement, maximum: float
) -> Verdict:
    target = f"< {maximum:.2f}"
    return _ratio(label, measured, baseline, by="p99", target=target, test=lambda v: v < maximum)


def latency_ratio_within(
    label: str, measured: Measurement, baseline: Measurement, *, by: Metric, tolerance: float
) -> Verdict:
    """`measured`'s latency percentile over `baseline`'s, within 1 ± `tolerance`."""
    low, high = 1 - tolerance, 1 + tolerance
    target = f"{low:.2f} - {high:.2f}"
    return _ratio(label, measured, baseline, by=by, target=target, test=lambda v: low <= v <= high)


def value_at_least(
    label: str, value: float, rounds: Sequence[float], minimum: float, *, unit: str
) -> Verdict:
    """A throughput: a request stream's (`rps_at_least`) or events through a pipeline."""
    return Verdict(
        label,
        f"{fmt_rps(value)} {unit}",
        spread(rounds, fmt_rps),
        f">= {fmt_rps(minimum)} {unit}",
        value >= minimum,
    )


def rps_at_least(label: str, measured: Measurement, minimum: float) -> Verdict:
    return value_at_least(label, measured.rps, measured.rps_rounds, minimum, unit="req/s")


def latency_below(
    label: str, value_ms: float, rounds_ms: Sequence[float], maximum_ms: float, *, missing: int = 0
) -> Verdict:
    """A latency percentile; `missing` samples that never arrived (their latency is unknown,
    but not below any bound) fail it."""
    return Verdict(
        label,
        f"{fmt_ms(value_ms)} ms" + (f", {missing} never seen" if missing else ""),
        spread(rounds_ms, fmt_ms),
        f"< {fmt_ms(maximum_ms)} ms",
        value_ms < maximum_ms and missing == 0,
    )


def p99_below(label: str, measured: Measurement, maximum_ms: float) -> Verdict:
    return latency_below(label, measured.p99, measured.p99_rounds, maximum_ms)


def no_errors(label: str, measured: Measurement) -> Verdict:
    tolerated = f" (+{measured.tolerated} deliberate 429)" if measured.tolerated else ""
    return Verdict(
        label,
        f"{measured.errors} errors{tolerated} in {measured.ok + measured.errors} answers",
        spread([float(r.stream.errors) for r in measured.rounds], lambda v: f"{v:.0f}"),
        "0 errors (429 allowed)",
        measured.errors == 0 and measured.ok > 0,
    )


def all_zero(label: str, counts: Mapping[str, int], *, per: Sequence[str], target: str) -> Verdict:
    """Counts that must all be zero, e.g. events lost and duplicated; `per` describes them
    piece by piece (shown where other verdicts show their rounds)."""
    return Verdict(
        label,
        ", ".join(f"{count} {name}" for name, count in counts.items()),
        "; ".join(per) or "-",
        target,
        all(count == 0 for count in counts.values()),
    )

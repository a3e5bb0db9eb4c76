"""Pooling the rounds of one candidate into the numbers we print: throughput, percentiles,
errors, CPU, and the spread between rounds (how much to trust a ratio)."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from bench.spec import CpuUse, StreamResult

Metric = Literal["rps", "p50", "p99"]


def percentile(samples: Sequence[float], fraction: float) -> float:
    """Linear interpolation between closest ranks (numpy's default); NaN for no samples."""
    if not samples:
        return math.nan
    ordered = sorted(samples)
    rank = fraction * (len(ordered) - 1)
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True, slots=True)
class Round:
    stream: StreamResult
    duration: float
    cpu: CpuUse

    @property
    def rps(self) -> float:
        return self.stream.ok / self.duration

    @property
    def p50(self) -> float:
        return percentile(self.stream.latencies_ms, 0.50)

    @property
    def p99(self) -> float:
        return percentile(self.stream.latencies_ms, 0.99)


@dataclass(slots=True)
class Measurement:
    """One candidate (a stream of a phase) over all its rounds."""

    name: str
    rounds: list[Round] = field(default_factory=list)

    def _samples(self) -> list[float]:
        return [ms for r in self.rounds for ms in r.stream.latencies_ms]

    @property
    def rps(self) -> float:
        seconds = sum(r.duration for r in self.rounds)
        return sum(r.stream.ok for r in self.rounds) / seconds if seconds else math.nan

    @property
    def rps_rounds(self) -> list[float]:
        return [r.rps for r in self.rounds]

    @property
    def p50(self) -> float:
        return percentile(self._samples(), 0.50)

    @property
    def p99(self) -> float:
        return percentile(self._samples(), 0.99)

    @property
    def p99_rounds(self) -> list[float]:
        return [r.p99 for r in self.rounds]

    @property
    def ok(self) -> int:
        return sum(r.stream.ok for r in self.rounds)

    @property
    def errors(self) -> int:
        return sum(r.stream.errors for r in self.rounds)

    @property
    def tolerated(self) -> int:
        return sum(r.stream.tolerated for r in self.rounds)

    @property
    def statuses(self) -> dict[str, int]:
        total: Counter[str] = Counter()
        for r in self.rounds:
            total.update(r.stream.statuses)
        return dict(total)

    def _mean(self, values: Sequence[float | None]) -> float:
        known = [v for v in values if v is not None]
        return sum(known) / len(known) if known else math.nan

    @property
    def client_cpu(self) -> float:
        return self._mean([r.cpu.client for r in self.rounds])

    @property
    def server_cpu(self) -> float:
        return self._mean([r.cpu.server for r in self.rounds])

    @property
    def database_cpu(self) -> float:
        return self._mean([r.cpu.database for r in self.rounds])

    @property
    def other_cpu(self) -> float:
        return self._mean([r.cpu.other for r in self.rounds])


def ratio_rounds(numerator: Measurement, denominator: Measurement, *, by: Metric) -> list[float]:
    """Round-by-round ratios of `by`: rounds of two candidates are paired in the order they
    ran, which is what interleaving makes comparable."""
    pairs = zip(numerator.rounds, denominator.rounds, strict=False)
    if by == "rps":
        return [a.rps / b.rps if b.rps else math.nan for a, b in pairs]
    if by == "p50":
        return [a.p50 / b.p50 if b.p50 else math.nan for a, b in pairs]
    return [a.p99 / b.p99 if b.p99 else math.nan for a, b in pairs]

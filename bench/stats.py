"""Pooling the rounds of one candidate into the numbers we print: throughput, percentiles,
errors, CPU, and the spread between rounds (how much to trust a ratio)."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from bench.spec import StreamResult

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


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else math.nan


@dataclass(frozen=True, slots=True)
class Round:
    stream: StreamResult
    duration: float
    cpu: Mapping[str, float]  # cores, by `bench.cpu.usage`

    @property
    def rps(self) -> float:
        return self.stream.ok / self.duration

    @property
    def p50(self) -> float:
        return percentile(self.stream.latencies_ms, 0.50)

    @property
    def p99(self) -> float:
        return percentile(self.stream.latencies_ms, 0.99)


@dataclass(frozen=True, slots=True)
class Measurement:
    """One candidate (a stream of a phase) pooled over all its rounds, by `pool`."""

    name: str
    rounds: Sequence[Round]
    rps: float
    p50: float
    p99: float
    ok: int
    errors: int
    tolerated: int
    statuses: Mapping[str, int]
    cpu: Mapping[str, float]  # mean cores per name over the rounds that measured it

    @property
    def rps_rounds(self) -> list[float]:
        return [r.rps for r in self.rounds]

    @property
    def p99_rounds(self) -> list[float]:
        return [r.p99 for r in self.rounds]


def pool(name: str, rounds: Sequence[Round]) -> Measurement:
    samples = [ms for r in rounds for ms in r.stream.latencies_ms]
    seconds = sum(r.duration for r in rounds)
    statuses: Counter[str] = Counter()
    for r in rounds:
        statuses.update(r.stream.statuses)
    ok = sum(r.stream.ok for r in rounds)
    return Measurement(
        name=name,
        rounds=rounds,
        rps=ok / seconds if seconds else math.nan,
        p50=percentile(samples, 0.50),
        p99=percentile(samples, 0.99),
        ok=ok,
        errors=sum(r.stream.errors for r in rounds),
        tolerated=sum(r.stream.tolerated for r in rounds),
        statuses=dict(statuses),
        cpu={k: mean([r.cpu[k] for r in rounds if k in r.cpu]) for r in rounds for k in r.cpu},
    )


def ratio_rounds(numerator: Measurement, denominator: Measurement, *, by: Metric) -> list[float]:
    """Round-by-round ratios of `by`: rounds of two candidates are paired in the order they
    ran, which is what interleaving makes comparable."""
    pairs = zip(numerator.rounds, denominator.rounds, strict=False)
    return [getattr(a, by) / getattr(b, by) if getattr(b, by) else math.nan for a, b in pairs]

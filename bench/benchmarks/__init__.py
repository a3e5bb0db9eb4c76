"""The benchmarks, by the name `python -m bench NAME` takes, in the order a full run goes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from bench.benchmarks import (
    audit_ingestion,
    auth_endpoints,
    health_under_login,
    login_timing,
    middleware_cost,
    token_check,
)
from bench.report import Report
from bench.runner import Options

Benchmark = Callable[[Options], Awaitable[Report]]

BENCHMARKS: dict[str, Benchmark] = {
    token_check.KEY: token_check.run,
    health_under_login.KEY: health_under_login.run,
    auth_endpoints.KEY: auth_endpoints.run,
    login_timing.KEY: login_timing.run,
    audit_ingestion.KEY: audit_ingestion.run,
    middleware_cost.KEY: middleware_cost.run,
}

__all__ = ["BENCHMARKS", "Benchmark"]

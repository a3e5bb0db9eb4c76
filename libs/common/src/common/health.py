"""Liveness (`/health`: the process answers) and readiness (`/health/ready`: its dependencies
answer too). Orchestrators restart on the first and stop routing on the second.

Readiness asks PostgreSQL and Redis over connections of its own (`ReadinessChecks`). Through the
request pools it would wait behind a burst of traffic, time out and report a healthy dependency
as down, and the orchestrator would take a busy replica out of rotation exactly when it is
needed (and then the next one)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Literal, Protocol, runtime_checkable

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from common.db.session import Database
from common.redis import create_redis
from common.runtime import HasState
from common.settings import ServiceSettings

logger = logging.getLogger(__name__)

HealthCheck = Callable[[], Awaitable[object]]
CHECK_TIMEOUT_SECONDS = 2.0
# Connections readiness keeps to each dependency: probes of an orchestrator and a load balancer
# may overlap; more would only wait for each other.
READINESS_CONNECTIONS = 2


class ReadinessChecks:
    """`/health/ready`'s own small pools to PostgreSQL and Redis, apart from the requests'."""

    def __init__(self, settings: ServiceSettings) -> None:
        self._database = Database(
            settings,
            pool_size=READINESS_CONNECTIONS,
            max_overflow=0,
            pool_timeout=CHECK_TIMEOUT_SECONDS,
            # A connection idle since the last probe may have been closed by the server.
            pre_ping=True,
            application_name=f"{settings.service_name}-readiness",
        )
        self._redis = create_redis(
            settings, max_connections=READINESS_CONNECTIONS, pool_timeout=CHECK_TIMEOUT_SECONDS
        )
        self.checks: dict[str, HealthCheck] = {
            "database": self._database.ping,
            "redis": self._redis.ping,
        }

    async def aclose(self) -> None:
        await self._redis.aclose()
        await self._database.dispose()


class NotReady(Exception):
    """Raised by a check to report a status of its own (a word such as `unavailable`, shown as
    the check's status) rather than `unavailable`: the gateway relays an upstream's."""

    def __init__(self, status: str) -> None:
        super().__init__(status)
        self.status = status


@runtime_checkable
class ReportsReadiness(Protocol):
    """A runtime of `create_stateless_app` with checks of its own for `/health/ready`."""

    @property
    def readiness_checks(self) -> Mapping[str, HealthCheck]: ...


def attach_readiness(app: HasState, checks: Mapping[str, HealthCheck]) -> None:
    """What `/health/ready` of this app asks, set by the app factory's lifespan."""
    app.state.readiness_checks = checks


def readiness_checks(app: HasState) -> Mapping[str, HealthCheck]:
    """The checks of a started app; RuntimeError if its lifespan has not run."""
    checks = getattr(app.state, "readiness_checks", None)
    if not isinstance(checks, Mapping):
        raise RuntimeError("the app has not started: its lifespan has not run")
    return checks


class HealthResponse(BaseModel):
    status: Literal["ok", "unavailable"]
    # Each check's state: `ok`, `unavailable`, or the word a check reported (`NotReady`).
    checks: dict[str, str] = {}


async def _run_check(name: str, check: HealthCheck) -> str:
    try:
        await asyncio.wait_for(check(), timeout=CHECK_TIMEOUT_SECONDS)
    except NotReady as not_ready:
        logger.warning("readiness check %s: %s", name, not_ready.status)
        return not_ready.status
    except Exception as exc:  # noqa: BLE001 (any failure means not ready; say which)
        logger.warning("readiness check %s failed: %s", name, exc.__class__.__name__)
        return "unavailable"
    return "ok"


async def run_checks(checks: Mapping[str, HealthCheck]) -> HealthResponse:
    results = await asyncio.gather(*(_run_check(n, c) for n, c in checks.items()))
    states = dict(zip(checks, results, strict=True))
    ready = all(state == "ok" for state in results)
    return HealthResponse(status="ok" if ready else "unavailable", checks=states)


router = APIRouter(tags=["health"])


@router.get("/health", response_model=HealthResponse, summary="Liveness")
async def health() -> HealthResponse:
    return HealthResponse(status="ok")


@router.get(
    "/health/ready",
    response_model=HealthResponse,
    summary="Readiness: database and Redis answer",
    responses={503: {"model": HealthResponse}},
)
async def ready(request: Request) -> HealthResponse | JSONResponse:
    result = await run_checks(readiness_checks(request.app))
    if result.status == "ok":
        return result
    return JSONResponse(result.model_dump(), status_code=503)

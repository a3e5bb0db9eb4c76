"""What a service builds at start-up, typed: the shared `ServiceCore` that `create_service_app`
makes for every service, and the service's own runtime built on top of it.

`app.state` is an untyped bag; each of these is put there once, under one name, and read back
through an accessor that checks its type, so a typo or a missing start-up is a clear error and
mypy sees every attribute. Routes never read `app.state`: they ask for a service object built in
the service's `dependencies.py` from `CoreDep` or the service's runtime dependency
(`common.dependencies`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, TypeVar

if TYPE_CHECKING:  # annotations only: this module is imported by what it describes
    import httpx
    from prometheus_client import CollectorRegistry
    from redis.asyncio import Redis
    from starlette.datastructures import State

    from common.audit import OutboxRelay
    from common.db.session import Database
    from common.health import ReadinessChecks
    from common.security.jwks import TokenVerifier
    from common.security.revocation import RevocationList
    from common.settings import ServiceSettings

RuntimeT = TypeVar("RuntimeT")


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceCore:
    """The shared resources of one service process, made by `create_service_app`'s lifespan
    (and closed by it)."""

    settings: ServiceSettings
    database: Database
    redis: Redis
    http: httpx.AsyncClient
    token_verifier: TokenVerifier
    revocations: RevocationList
    readiness: ReadinessChecks
    metrics: CollectorRegistry | None = None
    audit_relay: OutboxRelay | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class StatelessCore:
    """What `create_stateless_app` gives the runtime of an app without a database or Redis of
    its own (the gateway): its settings and metrics registry."""

    settings: ServiceSettings
    metrics: CollectorRegistry | None = None


class HasState(Protocol):
    """A Starlette or FastAPI application (what the accessors need of it)."""

    @property
    def state(self) -> State: ...


def attach_core(app: HasState, core: ServiceCore) -> None:
    app.state.core = core


def attach_runtime(app: HasState, runtime: object) -> None:
    app.state.runtime = runtime


def service_core(app: HasState) -> ServiceCore:
    """The core of a started app; RuntimeError if its lifespan has not run."""
    core = getattr(app.state, "core", None)
    if not isinstance(core, ServiceCore):
        raise RuntimeError("the service has not started: its lifespan has not run")
    return core


def service_runtime(app: HasState, kind: type[RuntimeT]) -> RuntimeT:
    """The service's own runtime, checked to be a `kind`."""
    runtime = getattr(app.state, "runtime", None)
    if not isinstance(runtime, kind):
        raise RuntimeError(f"the service has no {kind.__name__}: its lifespan has not run")
    return runtime

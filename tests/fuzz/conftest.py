"""The fuzzing pass: schemathesis sends what each service's OpenAPI document allows, and a good
deal that it does not, to the service served by uvicorn on a loopback port (real sockets, real
serialization, the whole middleware stack), signed in as a super_admin, and fails on a 5xx or
on any answer the document does not describe.

How it is built, and why:
- One test per operation of the document (`schema.parametrize()`), against one running
  service per module: the module's database (`module_clean_database`, emptied after its last
  test) and Redis prefix. The document is the app's own `openapi()`, read when the module is
  imported (schemathesis's lazy `from_fixture` does not work with pytest 9.2); the fixture
  checks that the running service serves exactly that document.
- Deterministic: a fixed seed, derandomized Hypothesis, no example database, no deadline (a
  2-core CI machine has slow moments that are not bugs), a bounded number of examples.
- Each example is sent with a working super_admin token (`AdminSession`). An example may end
  the admin's sessions (`POST /auth/logout-all`): before the next one the token is checked by
  the auth service's own verifier (revocations included) and, if it stopped working, a new
  super_admin signs in, so one operation cannot blind the fuzzer for the ones after it.
  The examples come from 127.0.0.1 and exhaust its login and registration budgets (the 429s
  are checked like any answer); the admin's sign-ins come through it as another client.
- Path parameters are random UUIDs (nothing found: 404) or, as often as Hypothesis picks them,
  the ids of resources that exist (another user, roles, audit events), so that answers about
  found resources are checked too. The admin's own account and the `super_admin` role are not
  among them: deactivating or demoting the fuzzer's own account, or emptying the role that
  gives it its rights, would lock it out of every operation after that and test nothing more.
  The same operations run on the other account and the other roles.
- The services run with their test settings: every Host is served (as in development), so
  a 400 that a route did not declare still fails the pass; in production the Host check's 400
  is declared on every operation (`common.app.shared_refusals`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import httpx
import pytest
import schemathesis
from _pytest.nodeid import NodeId
from fastapi import FastAPI
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from schemathesis import Case
from schemathesis.config import SchemathesisConfig
from schemathesis.hooks import HookContext
from schemathesis.schemas import BaseSchema

from activity_service.main import create_app as create_activity_app
from activity_service.services.chain_writer import ChainWriter
from activity_service.services.event_rows import NewEvent
from activity_service.settings import ActivitySettings
from auth_service.main import create_app as create_auth_app
from auth_service.runtime import AuthRuntime
from auth_service.services.admins import AdminAccounts
from auth_service.settings import AuthSettings
from common.audit import Actor, AuditEvent, Resource
from common.errors import DomainError
from common.runtime import service_core, service_runtime
from common.settings import ServiceSettings
from common.testing import ThreadedServer

S = TypeVar("S", bound=ServiceSettings)

API = "/api/v1"
# The fuzzer's requests come from 127.0.0.1, which auth trusts as a proxy here; the admin's
# sign-ins say, through it, that they come from another client.
PROXY_ADDRESS = "127.0.0.1"
ADMIN_CLIENT_ADDRESS = "127.0.0.2"
PASSWORD = "correct horse battery staple"
UNUSED_DATABASE = "postgresql+asyncpg://postgres@127.0.0.1:5432/unused"

# Examples per operation in the fuzzing phase; the examples and coverage phases add their own
# deterministic cases. Sized so that both services together take about two minutes on the
# 2-core CI machine.
MAX_EXAMPLES = 100
SEED = 20261201

FUZZ_CONFIG = SchemathesisConfig.from_dict(
    {
        "seed": SEED,
        "suppress-health-check": ["all"],
        "generation": {
            "mode": "all",  # valid data, and data the document says is invalid
            "max-examples": MAX_EXAMPLES,
            "deterministic": True,
            "database": "none",
            "unique-inputs": True,  # no request sent twice: the examples go further
        },
        "phases": {
            "examples": {"enabled": True},
            "coverage": {"enabled": True},
            "fuzzing": {"enabled": True},
            "stateful": {"enabled": False},
        },
    }
)

# What the pass checks on every answer.
CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_schema_conformance,
    schemathesis.checks.response_headers_conformance,
]

# Schemathesis derives the same from FUZZ_CONFIG; said again here for the reader, and so that
# a profile Hypothesis loads by itself in CI cannot change them.
FUZZ_SETTINGS = hypothesis_settings(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
    print_blob=False,
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Name each operation's test after the operation (`test_x[GET /users/{user_id}]`), as
    schemathesis means to. pytest 9.2 builds a test's id from its original name and its
    parametrization only, so every operation's test would be plain `test_x`: one name for
    thirty tests in reports, `-k` and `--lf`. (pytest keeps the id in `_id`; nothing public
    sets it.)"""
    for item in items:
        label = getattr(item, "operation_label", None)
        if label and item.nodeid.endswith(f"::{item.name.partition('[')[0]}"):
            item._id = NodeId.parse(f"{item.nodeid}[{label}]")


@dataclass
class KnownIds:
    """Ids of resources that exist, by path parameter name; filled by the fixture that creates
    them, read when Hypothesis draws (after the fixture ran)."""

    by_name: dict[str, list[str]] = field(default_factory=dict)

    def strategy(self, name: str) -> st.SearchStrategy[str]:
        """One of the ids known for `name` (none known: nothing, so the random values stay)."""

        def draw() -> st.SearchStrategy[str]:
            ids = self.by_name.get(name)
            return st.sampled_from(ids) if ids else st.nothing()

        return st.deferred(draw)


def fuzz_schema(app: FastAPI, known: KnownIds) -> BaseSchema:
    """The app's OpenAPI document for schemathesis, with the known ids mixed into the path
    parameters Hypothesis draws."""
    schema = schemathesis.openapi.from_dict(app.openapi(), config=FUZZ_CONFIG)

    @schema.hook
    def before_generate_path_parameters(
        context: HookContext, strategy: st.SearchStrategy[dict[str, Any]]
    ) -> st.SearchStrategy[dict[str, Any]]:
        if context.operation is None:
            return strategy
        names = [parameter.name for parameter in context.operation.path_parameters]
        if not names:
            return strategy
        existing = st.fixed_dictionaries({name: known.strategy(name) for name in names})
        return st.one_of(strategy, existing)

    return schema


def document_app(create_app: Callable[[S], FastAPI], settings_class: type[S]) -> FastAPI:
    """An app of the service built only for its OpenAPI document (never started)."""
    settings = settings_class(
        _env_file=None,
        database_url=UNUSED_DATABASE,
        environment="test",
        log_level="WARNING",
    )
    return create_app(settings)


class AdminSession:
    """The fuzzer's super_admin. Made as the CLI makes one and signed in through the API;
    when its access token stops working (an example signed it out everywhere), a new
    super_admin is made and signed in: the old account may be locked out by then, as the
    fuzzer's failed password changes count against the account it is signed in as. Sign-ins
    come from a client address of their own (`X-Forwarded-For` through the trusted proxy), as
    the fuzzer's failed logins exhaust its own address's budget. Checking the token costs no
    request: the auth app's own verifier checks it (revocations included) in the server's event
    loop."""

    def __init__(self, server: ThreadedServer, auth: FastAPI) -> None:
        self.server = server
        self.auth = auth
        self.http = httpx.Client(
            base_url=server.url, headers={"X-Forwarded-For": ADMIN_CLIENT_ADDRESS}
        )
        self.accounts: list[str] = []  # user ids, oldest first
        self._token: str | None = None

    def close(self) -> None:
        self.http.close()

    @property
    def user_id(self) -> str:
        """The account the fuzzer is signed in as now."""
        self.headers()
        return self.accounts[-1]

    def headers(self) -> dict[str, str]:
        if self._token is None or not self._valid(self._token):
            self._token = self._new_admin()
        return {"Authorization": f"Bearer {self._token}"}

    def _valid(self, token: str) -> bool:
        try:
            self.server.run(service_core(self.auth).token_verifier.verify(token))
        except DomainError:
            return False
        return True

    def _new_admin(self) -> str:
        email = f"fuzz-admin-{len(self.accounts)}@example.com"

        async def create() -> str:
            async with service_core(self.auth).database.sessionmaker() as session:
                user, _ = await AdminAccounts(
                    session,
                    hasher=service_runtime(self.auth, AuthRuntime).hasher,
                    policy=service_runtime(self.auth, AuthRuntime).policy,
                ).create(
                    email=email,
                    password=PASSWORD,
                )
            return str(user.id)

        user_id = self.server.run(create())
        answer = self.http.post(f"{API}/auth/login", json={"email": email, "password": PASSWORD})
        assert answer.status_code == 200, answer.text
        self.accounts.append(user_id)
        token: str = answer.json()["access_token"]
        return token


@dataclass
class Target:
    """A running service under fuzzing and the admin the examples are sent as."""

    url: str
    admin: AdminSession


def fuzz(case: Case[Any], target: Target) -> None:
    """One example: sent over HTTP with the admin's token, its answer checked."""
    case.call_and_validate(base_url=target.url, headers=target.admin.headers(), checks=CHECKS)


def assert_serves(url: str, document: dict[str, Any]) -> None:
    """The running service serves the document the tests were generated from."""
    served = httpx.get(f"{url}/openapi.json")
    assert served.status_code == 200, served.text
    assert served.json() == document


# --- auth -----------------------------------------------------------------------------------


AUTH_DOCUMENT_APP = document_app(create_auth_app, AuthSettings)
AUTH_IDS = KnownIds()


def auth_settings(database_url: str, redis_url: str, redis_prefix: str) -> AuthSettings:
    return AuthSettings(
        _env_file=None,
        database_url=database_url,
        redis_url=redis_url,
        redis_key_prefix=redis_prefix,
        environment="test",
        access_log=False,
        log_level="WARNING",
        jwks_min_refresh_interval=0,
        signing_key_recheck_seconds=0,
        audit_relay_enabled=False,
        mail_backend="log",
        trusted_proxies=[PROXY_ADDRESS],
    )


@dataclass
class AuthStack:
    app: FastAPI
    server: ThreadedServer
    http: httpx.Client
    admin: AdminSession


@pytest.fixture(scope="module")
def auth_stack(
    module_clean_database: str, redis_url: str, module_redis_prefix: str
) -> Iterator[AuthStack]:
    """The auth service on a loopback port, and the fuzzer's super_admin."""
    app = create_auth_app(auth_settings(module_clean_database, redis_url, module_redis_prefix))
    with ThreadedServer(app, lifespan=True) as server, httpx.Client(base_url=server.url) as http:
        admin = AdminSession(server, app)
        try:
            admin.headers()
            yield AuthStack(app=app, server=server, http=http, admin=admin)
        finally:
            admin.close()


@pytest.fixture(scope="module")
def auth_target(auth_stack: AuthStack) -> Target:
    """Auth with another account and a role of its own besides the seeded ones."""
    assert_serves(auth_stack.server.url, AUTH_DOCUMENT_APP.openapi())
    http, headers = auth_stack.http, auth_stack.admin.headers()
    user = http.post(
        f"{API}/auth/register", json={"email": "someone@example.com", "password": PASSWORD}
    )
    assert user.status_code == 201, user.text
    role = http.post(
        f"{API}/roles",
        json={"name": "editor", "description": "Edits things", "permissions": ["users:read"]},
        headers=headers,
    )
    assert role.status_code == 201, role.text
    roles = http.get(f"{API}/roles", params={"limit": 100}, headers=headers).json()["items"]
    AUTH_IDS.by_name.update(
        user_id=[user.json()["id"]],
        role_id=[r["id"] for r in roles if r["name"] != "super_admin"],
    )
    return Target(url=auth_stack.server.url, admin=auth_stack.admin)


# --- activity -------------------------------------------------------------------------------


ACTIVITY_DOCUMENT_APP = document_app(create_activity_app, ActivitySettings)
ACTIVITY_IDS = KnownIds()


def audit_events(admin_id: str) -> list[AuditEvent]:
    """A short trail: the admin's own events and someone else's, over a few days."""
    start = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
    someone = str(uuid.uuid4())
    rows: list[tuple[str, str, str, str | None]] = [
        (admin_id, "auth.user.login", "user", admin_id),
        (admin_id, "auth.role.created", "role", "editor"),
        (someone, "auth.user.registered", "user", someone),
        (someone, "auth.user.login", "user", someone),
        (admin_id, "auth.user.updated", "user", someone),
        (someone, "auth.password.changed", "user", None),
    ]
    return [
        AuditEvent(
            service="auth",
            action=action,
            actor=Actor(type="user", id=actor, ip="203.0.113.7", user_agent="fuzz/1.0"),
            resource=Resource(type=resource_type, id=resource_id),
            occurred_at=start + timedelta(hours=7 * index),
            request_id=f"fuzz-{index}",
            metadata={"n": index},
        )
        for index, (actor, action, resource_type, resource_id) in enumerate(rows)
    ]


async def store_events(app: FastAPI, events: Sequence[AuditEvent]) -> int:
    """Append `events` to the chain with the writer the audit consumer uses; how many it
    stored."""
    writer = ChainWriter(service_core(app).database.engine)
    result = await writer.append([NewEvent.from_audit_event(e) for e in events])
    return result.stored


@pytest.fixture(scope="module")
def activity_target(
    auth_stack: AuthStack, module_clean_database: str, redis_url: str, module_redis_prefix: str
) -> Iterator[Target]:
    """The activity service on a loopback port, verifying tokens against auth's JWKS over HTTP
    as in production, with a trail of a few events."""
    settings = ActivitySettings(
        _env_file=None,
        database_url=module_clean_database,
        redis_url=redis_url,
        redis_key_prefix=module_redis_prefix,
        jwks_url=f"{auth_stack.server.url}/.well-known/jwks.json",
        jwks_min_refresh_interval=0,
        environment="test",
        access_log=False,
        log_level="WARNING",
    )
    app = create_activity_app(settings)
    events = audit_events(auth_stack.admin.user_id)
    with ThreadedServer(app, lifespan=True) as server:
        assert_serves(server.url, ACTIVITY_DOCUMENT_APP.openapi())
        assert server.run(store_events(app, events)) == len(events)
        ACTIVITY_IDS.by_name.update(event_id=[str(e.id) for e in events])
        yield Target(url=server.url, admin=auth_stack.admin)

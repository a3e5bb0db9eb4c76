"""Settings every service shares; each service extends `ServiceSettings` with its own fields.

Values come from the environment and a `.env` file. The environment is production unless it says
otherwise, and production refuses to start with anything insecure (a development secret, a
wildcard host list, plain-http or loopback URLs, debug logging of SQL...), listing every problem
at once: a process started without configuration, or with a forgotten variable, fails the deploy
instead of weakening it. Development says so explicitly (`.env.example`, `make dev`).
"""

from __future__ import annotations

import ipaddress
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Self
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from common.client import IPNetwork, parse_networks

DEV_SECRET_KEY = "dev-insecure-secret-key-change-me-0123456789abcdef"  # noqa: S105 (refused in production)
# Auth's token endpoint (OAuth2 form, RFC 6749): the path every service, the gateway included,
# serves it at, and where auth answers it in development (`make dev`, Procfile.dev).
AUTH_TOKEN_PATH = "/api/v1/auth/token"  # noqa: S105 (a path, not a secret)
DEV_AUTH_TOKEN_URL = f"http://localhost:8001{AUTH_TOKEN_PATH}"


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


CsvList = Annotated[list[str], NoDecode]


class InsecureSettings(Exception):
    """Production refused these settings. Deliberately not a ValueError: pydantic would wrap it
    in a ValidationError whose message quotes the input, DATABASE_URL's password with it."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        lines = "".join(f"  - {problem}\n" for problem in problems)
        super().__init__(
            "ENVIRONMENT is production (the default when it is not set), which refuses:\n"
            f"{lines}"
            "Fix these for production, or set ENVIRONMENT=development to run locally "
            "(`make dev` and .env.example do)."
        )


def _points_at_this_machine(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def public_https_url_problem(name: str, url: str) -> str | None:
    """Why `url` is no URL for browsers and other machines to use in production, if it is not:
    plain http (tokens and links readable and changeable on the way), or this machine."""
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        return f"{name} is not an https URL ({url})"
    if _points_at_this_machine(parts.hostname):
        return f"{name} points at this machine ({url})"
    return None


def _cors_origin_problem(origin: str) -> str | None:
    parts = urlsplit(origin)
    shaped = (
        parts.scheme == "https"
        and parts.hostname
        and not (parts.path or parts.query or parts.fragment or parts.username)
    )
    if not shaped:
        return f"CORS_ORIGINS has {origin}, which is not an https origin (https://host[:port])"
    if parts.hostname and _points_at_this_machine(parts.hostname):
        return f"CORS_ORIGINS has {origin}, which points at this machine"
    return None


class ServiceSettings(BaseSettings):
    """Base of every service's settings. Field names map to upper-case environment variables."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", frozen=True
    )

    service_name: str = "service"
    environment: Environment = Environment.PRODUCTION
    api_prefix: str = "/api/v1"

    secret_key: SecretStr = SecretStr(DEV_SECRET_KEY)

    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/fastapi_microservices_dev"
    db_schema: str = "public"
    db_pool_size: int = Field(default=20, ge=1)
    db_max_overflow: int = Field(default=0, ge=0)
    db_pool_timeout: float = Field(default=10.0, gt=0)
    db_echo: bool = False

    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_key_prefix: str = ""
    # Connections per process; requests beyond them wait up to REDIS_POOL_TIMEOUT seconds for
    # one to come free, then get 503 `redis_busy` (back-pressure, not an outage).
    redis_max_connections: int = Field(default=50, ge=1)
    redis_pool_timeout: float = Field(default=5.0, gt=0)
    celery_broker_url: str | None = None

    jwt_issuer: str = "http://localhost:8001"
    jwt_audience: str = "api"
    jwks_url: str = "http://127.0.0.1:8001/.well-known/jwks.json"
    jwks_cache_seconds: float = Field(default=300.0, ge=0)
    jwks_min_refresh_interval: float = Field(default=10.0, ge=0)
    jwt_leeway_seconds: int = Field(default=30, ge=0, le=300)
    token_cache_size: int = Field(default=10_000, ge=0)
    # Revoked access tokens (common.security.revocation): the stream auth publishes them on,
    # how long a verifier trusts what it knows while it cannot read the stream, and whether it
    # then lets tokens through (true) or refuses them with 503 (false).
    token_revocation_stream: str = "auth.revocations"  # noqa: S105 (a stream name)
    token_revocation_max_lag_seconds: float = Field(default=10.0, ge=0, le=300)
    token_revocation_fail_open: bool = False

    # The audit trail (docs/architecture.md): each producing service relays its outbox to the
    # stream; MAXLEN bounds the stream approximately (entries already consumed are the ones
    # trimmed first as long as the consumers keep up).
    audit_stream: str = "audit.events"
    audit_stream_maxlen: int = Field(default=1_000_000, ge=1000)
    audit_relay_enabled: bool = True
    audit_relay_batch_size: int = Field(default=500, ge=1, le=10_000)
    audit_relay_idle_interval: float = Field(default=0.1, gt=0, le=10)
    audit_relay_max_backoff: float = Field(default=30.0, gt=0)

    log_level: str = "INFO"
    log_json: bool | None = None
    log_file: Path | None = None
    log_file_max_bytes: int = 10 * 1024 * 1024
    log_file_backups: int = 5
    access_log: bool = True
    # What a process builds at start-up (models, routes, schemas, the runtime) lives as long as
    # it does: frozen out of the cyclic GC's view once the app has started, so that full
    # collections under load scan only what requests allocate (decision 0015).
    gc_freeze_after_startup: bool = True

    # Addresses or networks of the reverse proxies whose X-Forwarded-For is believed
    # (common.client); empty: the TCP peer is the client.
    trusted_proxies: Annotated[CsvList, Field(default_factory=list)]
    cors_origins: Annotated[CsvList, Field(default_factory=list)]
    trusted_hosts: Annotated[CsvList, Field(default_factory=lambda: ["*"])]
    # /docs, /redoc and /openapi.json: served outside production unless set to false, in
    # production only when set to true.
    docs_enabled: bool | None = None
    # Where the Authorize dialog of /docs signs users in (OAuth2 password flow): auth's public
    # token endpoint, an absolute URL or a path on the docs' own origin. Unset: auth on :8001
    # outside production, the path in production (auth itself, or behind the gateway).
    docs_token_url: str | None = None
    max_body_size: int = Field(default=1024 * 1024, ge=1)
    # Request headers (name and value bytes): all together, and any one of them.
    max_headers_size: int = Field(default=16 * 1024, ge=1024)
    max_header_field_size: int = Field(default=8 * 1024, ge=256)
    metrics_enabled: bool = True

    @model_validator(mode="before")
    @classmethod
    def _parse_lists(cls, data: object) -> object:
        if isinstance(data, dict):
            for key in ("cors_origins", "trusted_hosts", "trusted_proxies"):
                if key in data:
                    data[key] = _split_csv(data[key])
        return data

    @field_validator("cors_origins")
    @classmethod
    def _refuse_the_null_origin(cls, origins: list[str]) -> list[str]:
        if any(origin.lower() == "null" for origin in origins):
            raise ValueError(
                "CORS_ORIGINS has the null origin, which sandboxed iframes and local files "
                "of any site send"
            )
        return origins

    @field_validator("docs_token_url")
    @classmethod
    def _token_url_is_a_url_or_a_path(cls, url: str | None) -> str | None:
        if not url:
            return None  # set but empty: unset
        parts = urlsplit(url)
        absolute = parts.scheme in ("http", "https") and bool(parts.hostname)
        if not (absolute or (url.startswith("/") and not url.startswith("//"))):
            raise ValueError("DOCS_TOKEN_URL must be an http(s) URL or a path starting with /")
        return url

    @model_validator(mode="after")
    def _check_trusted_proxies(self) -> Self:
        try:
            parse_networks(tuple(self.trusted_proxies))
        except ValueError as exc:
            raise ValueError(f"TRUSTED_PROXIES: {exc}") from exc
        return self

    @property
    def trusted_proxy_networks(self) -> tuple[IPNetwork, ...]:
        return parse_networks(tuple(self.trusted_proxies))

    @model_validator(mode="after")
    def _refuse_insecure_production(self) -> Self:
        if self.environment is not Environment.PRODUCTION:
            return self
        problems = self.production_problems()
        if problems:
            raise InsecureSettings(problems)
        return self

    def production_problems(self) -> list[str]:
        """What production refuses in these settings. Services extend the list with their own
        (call super()), so that one refusal names everything there is to fix."""
        problems: list[str] = []
        if self.secret_key.get_secret_value() == DEV_SECRET_KEY:
            problems.append("SECRET_KEY is the development default")
        elif len(self.secret_key.get_secret_value()) < 32:
            problems.append("SECRET_KEY is shorter than 32 characters")
        if "*" in self.trusted_hosts:
            problems.append("TRUSTED_HOSTS allows any host")
        if "*" in self.cors_origins:
            problems.append("CORS_ORIGINS allows any origin")
        else:
            problems.extend(filter(None, map(_cors_origin_problem, self.cors_origins)))
        if self.db_echo:
            problems.append("DB_ECHO logs every statement and its parameters")
        problems.extend(filter(None, [public_https_url_problem("JWT_ISSUER", self.jwt_issuer)]))
        if self.docs_token_url and not self.docs_token_url.startswith("/"):
            problems.extend(
                filter(None, [public_https_url_problem("DOCS_TOKEN_URL", self.docs_token_url)])
            )
        return problems

    @property
    def is_production(self) -> bool:
        return self.environment is Environment.PRODUCTION

    @property
    def serves_docs(self) -> bool:
        return not self.is_production if self.docs_enabled is None else self.docs_enabled

    @property
    def docs_sign_in_url(self) -> str:
        """The token URL of the password flow the docs offer (DOCS_TOKEN_URL, or its default)."""
        if self.docs_token_url:
            return self.docs_token_url
        return AUTH_TOKEN_PATH if self.is_production else DEV_AUTH_TOKEN_URL

    @property
    def json_logs(self) -> bool:
        """JSON lines in production unless told otherwise; readable colours elsewhere."""
        return self.is_production if self.log_json is None else self.log_json

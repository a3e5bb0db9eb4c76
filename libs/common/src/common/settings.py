"""Settings every service shares; each service extends `ServiceSettings` with its own fields.

Values come from the environment and a `.env` file. In production the class refuses to start
with a development secret, a wildcard host list or debug logging of SQL, so a forgotten variable
fails the deploy instead of weakening it.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEV_SECRET_KEY = "dev-insecure-secret-key-change-me-0123456789abcdef"  # noqa: S105 (refused in production)


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


CsvList = Annotated[list[str], NoDecode]


class ServiceSettings(BaseSettings):
    """Base of every service's settings. Field names map to upper-case environment variables."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", frozen=True
    )

    service_name: str = "service"
    environment: Environment = Environment.DEVELOPMENT
    api_prefix: str = "/api/v1"

    secret_key: SecretStr = SecretStr(DEV_SECRET_KEY)

    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/app"
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

    cors_origins: Annotated[CsvList, Field(default_factory=list)]
    trusted_hosts: Annotated[CsvList, Field(default_factory=lambda: ["*"])]
    max_body_size: int = Field(default=1024 * 1024, ge=1)
    # Request headers (name and value bytes): all together, and any one of them.
    max_headers_size: int = Field(default=16 * 1024, ge=1024)
    max_header_field_size: int = Field(default=8 * 1024, ge=256)
    metrics_enabled: bool = True

    @model_validator(mode="before")
    @classmethod
    def _parse_lists(cls, data: object) -> object:
        if isinstance(data, dict):
            for key in ("cors_origins", "trusted_hosts"):
                if key in data:
                    data[key] = _split_csv(data[key])
        return data

    @model_validator(mode="after")
    def _refuse_insecure_production(self) -> Self:
        if self.environment is not Environment.PRODUCTION:
            return self
        problems: list[str] = []
        if self.secret_key.get_secret_value() == DEV_SECRET_KEY:
            problems.append("SECRET_KEY is the development default")
        if len(self.secret_key.get_secret_value()) < 32:
            problems.append("SECRET_KEY is shorter than 32 characters")
        if "*" in self.trusted_hosts:
            problems.append("TRUSTED_HOSTS allows any host")
        if "*" in self.cors_origins:
            problems.append("CORS_ORIGINS allows any origin")
        if self.db_echo:
            problems.append("DB_ECHO logs every statement and its parameters")
        if problems:
            raise ValueError("insecure production settings: " + "; ".join(problems))
        return self

    @property
    def is_production(self) -> bool:
        return self.environment is Environment.PRODUCTION

    @property
    def json_logs(self) -> bool:
        """JSON lines in production unless told otherwise; readable colours elsewhere."""
        return self.is_production if self.log_json is None else self.log_json

"""Each benchmark's own world: a fresh database (migrated, dropped at the end), a Redis key
prefix of its own (its keys deleted at the end) and a scratch directory for server logs.

Nothing is shared with the test suite or a developer's stack, so a benchmark can run while
another engineer runs the tests, and leaves nothing behind even when it fails.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from redis.asyncio import Redis
from redis.exceptions import RedisError

from bench.servers import REPO_ROOT, production_env

ADMIN_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
_template: ContextVar[str | None] = ContextVar("bench_template", default=None)


class EnvironmentFailed(RuntimeError):
    """PostgreSQL or Redis is not usable, or a migration failed."""


@dataclass(frozen=True, slots=True)
class BenchEnvironment:
    run_id: str
    database_name: str
    database_url: str
    redis_url: str
    redis_prefix: str
    workdir: Path

    def server_env(self, **overrides: str) -> dict[str, str]:
        """Production-like settings for a server of this run, plus `overrides`."""
        env = production_env(
            database_url=self.database_url, redis_url=self.redis_url, redis_prefix=self.redis_prefix
        )
        env.update({key.upper(): value for key, value in overrides.items()})
        return env


def _database_url(name: str) -> str:
    base, _, _ = ADMIN_URL.rpartition("/")
    return f"{base}/{name}".replace("postgresql://", "postgresql+asyncpg://", 1)


async def _admin(sql: str) -> None:
    try:
        connection = await asyncpg.connect(ADMIN_URL)
    except (OSError, asyncpg.PostgresError) as exc:
        raise EnvironmentFailed(f"PostgreSQL at {ADMIN_URL} is not usable: {exc!r}") from exc
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def _migrate(database_url: str, workdir: Path) -> None:
    """Alembic reads DATABASE_URL through the service's settings, so it gets the servers'
    production settings and runs where they run (`workdir`): a developer's `.env` cannot
    change them, and a checkout without one migrates too."""
    env = {
        **os.environ,
        **production_env(database_url=database_url, redis_url=REDIS_URL, redis_prefix=""),
        "ALEMBIC_CONFIG": str(REPO_ROOT / "alembic.ini"),
    }
    done = subprocess.run(
        [sys.executable, "-m", "common.db.migrations", "upgrade"],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise EnvironmentFailed(f"migrations failed:\n{done.stderr}")


@asynccontextmanager
async def _database(name: str, *, template: str | None = None) -> AsyncIterator[str]:
    """A database `name`, migrated (or copied from `template`); dropped at the end. Yields
    its URL."""
    await _admin(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    try:
        url = _database_url(name)
        if template is None:
            with tempfile.TemporaryDirectory(prefix=f"{name}-") as workdir:
                await asyncio.to_thread(_migrate, url, Path(workdir))
        yield url
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@asynccontextmanager
async def migrated_template() -> AsyncIterator[None]:
    """While open, each `bench_environment` copies one database migrated once (`CREATE
    DATABASE ... TEMPLATE`) instead of running every migration again: a full run, or the smoke
    test, saves several seconds per benchmark."""
    async with _database(f"bench_template_{secrets.token_hex(5)}") as url:
        token = _template.set(url.rpartition("/")[2])
        try:
            yield
        finally:
            _template.reset(token)


@asynccontextmanager
async def bench_environment() -> AsyncIterator[BenchEnvironment]:
    run_id = secrets.token_hex(5)
    prefix = f"bench:{run_id}:"
    redis = Redis.from_url(REDIS_URL, socket_connect_timeout=2.0)
    try:
        await redis.ping()
    except (OSError, RedisError) as exc:
        await redis.aclose()
        raise EnvironmentFailed(f"Redis at {REDIS_URL} is not usable: {exc!r}") from exc
    try:
        async with _database(f"bench_{run_id}", template=_template.get()) as url:
            with tempfile.TemporaryDirectory(prefix=f"bench-{run_id}-") as workdir:
                yield BenchEnvironment(
                    run_id=run_id,
                    database_name=f"bench_{run_id}",
                    database_url=url,
                    redis_url=REDIS_URL,
                    redis_prefix=prefix,
                    workdir=Path(workdir),
                )
    finally:
        keys = [key async for key in redis.scan_iter(match=f"{prefix}*", count=1000)]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()

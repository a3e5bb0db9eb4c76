"""Async engine and session factory bound to one service's schema."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    async_sessionmaker,
    create_async_engine,
)

from common.settings import ServiceSettings


class Database:
    """Owns the engine of a service; created in the lifespan, disposed at shutdown.

    Sized by the DB_POOL_* settings unless told otherwise (readiness keeps a small pool of its
    own, `common.health.ReadinessChecks`)."""

    def __init__(
        self,
        settings: ServiceSettings,
        *,
        pool_size: int | None = None,
        max_overflow: int | None = None,
        pool_timeout: float | None = None,
        pre_ping: bool = False,
        application_name: str | None = None,
    ) -> None:
        self.engine: AsyncEngine = create_async_engine(
            settings.database_url,
            pool_size=settings.db_pool_size if pool_size is None else pool_size,
            max_overflow=settings.db_max_overflow if max_overflow is None else max_overflow,
            pool_timeout=settings.db_pool_timeout if pool_timeout is None else pool_timeout,
            pool_pre_ping=pre_ping,
            echo=settings.db_echo,
            # SQLAlchemy writes a failed statement's parameters into the exception message, and
            # from there into the error log: a password hash being stored, a token being looked
            # up. The statement itself stays in the message; its values never do.
            hide_parameters=True,
            connect_args={
                "server_settings": {
                    "search_path": settings.db_schema,
                    "application_name": application_name or settings.service_name,
                    # Short OLTP queries never gain from JIT compilation; it only adds latency.
                    "jit": "off",
                }
            },
        )
        # Objects stay readable after commit: services return them to routes for serialising.
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)

    async def ping(self) -> None:
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()

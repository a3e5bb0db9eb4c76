"""The body of every service's Alembic `env.py`: async engine, the service's own schema, and the
version table inside that schema so each service keeps an independent history."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from logging.config import fileConfig
from typing import Any

from alembic import context
from sqlalchemy import Connection, MetaData, pool, text
from sqlalchemy.ext.asyncio import create_async_engine


def _include_object(schema: str) -> Any:
    def include(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        if type_ == "table":
            return bool(obj.schema == schema)
        return True

    return include


def _configure(connection: Connection | None, metadata: MetaData, schema: str, **kw: Any) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table_schema=schema,
        include_schemas=True,
        include_object=_include_object(schema),
        compare_type=True,
        **kw,
    )


def _run_sync(connection: Connection, metadata: MetaData, schema: str) -> None:
    connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    _configure(connection, metadata, schema)
    with context.begin_transaction():
        context.run_migrations()


async def _run_online(url: str, metadata: MetaData, schema: str) -> None:
    engine = create_async_engine(url, poolclass=pool.NullPool, hide_parameters=True)
    async with engine.connect() as connection:
        await connection.run_sync(_run_sync, metadata, schema)
        await connection.commit()
    await engine.dispose()


def run_migrations(
    *, metadata: MetaData, schema: str, default_url: Callable[[], str] | str
) -> None:
    """`sqlalchemy.url` in the Alembic config wins (the test harness sets it); else the
    service's DATABASE_URL setting. Pass that as a callable (`lambda: get_settings().
    database_url`): it is only read when needed, so a migration run that is given its URL does
    not build (and have production refuse) the service's whole settings."""
    if context.config.config_file_name and context.config.attributes.get("configure_logger", True):
        fileConfig(context.config.config_file_name, disable_existing_loggers=False)
    url = context.config.get_main_option("sqlalchemy.url") or (
        default_url() if callable(default_url) else default_url
    )
    if context.is_offline_mode():
        _configure(None, metadata, schema, url=url, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    asyncio.run(_run_online(url, metadata, schema))

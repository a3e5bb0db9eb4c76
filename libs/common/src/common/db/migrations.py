"""One Alembic environment for every service: async engine, the service's own schema, and the
version table inside that schema so each service keeps an independent history.

The root `alembic.ini` has a section per service (`alembic -n auth upgrade head`) naming its
schema, its models' metadata and its settings; `python -m common.db.migrations upgrade` runs
every section (what `make migrate` does).
"""

from __future__ import annotations

import asyncio
import os
import pkgutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from logging.config import fileConfig
from pathlib import Path
from typing import Any, cast

from alembic import command, context
from alembic.config import Config
from sqlalchemy import Connection, MetaData, pool, text
from sqlalchemy.ext.asyncio import create_async_engine


def alembic_ini() -> Path:
    """Where the `alembic` command looks too: ALEMBIC_CONFIG, else ./alembic.ini."""
    return Path(os.environ.get("ALEMBIC_CONFIG", "alembic.ini"))


@dataclass(frozen=True, slots=True)
class ServiceHistory:
    """What a service's section of `alembic.ini` names."""

    schema: str
    metadata: MetaData
    settings: Callable[[], Any]

    @classmethod
    def of(cls, config: Config) -> ServiceHistory:
        def option(name: str) -> str:
            value = config.get_main_option(name)
            if not value:
                raise SystemExit(
                    f"alembic.ini section [{config.config_ini_section}] sets no `{name}`: "
                    "run with -n <service>"
                )
            return value

        return cls(
            schema=option("schema"),
            metadata=cast(MetaData, pkgutil.resolve_name(option("metadata"))),
            settings=cast(Callable[[], Any], pkgutil.resolve_name(option("settings"))),
        )

    def database_url(self) -> str:
        return str(self.settings().database_url)


def service_sections(ini: Path | None = None) -> list[str]:
    """The services of `ini`, in file order (every section that names a schema)."""
    ini = ini or alembic_ini()
    return [
        section
        for section in Config(str(ini)).file_config.sections()
        if Config(str(ini), ini_section=section).get_main_option("schema")
    ]


def service_config(
    section: str, *, database_url: str | None = None, ini: Path | None = None
) -> Config:
    """The Alembic config of one service; with `database_url`, pointed there and leaving the
    caller's logging alone (tests, benchmarks)."""
    config = Config(str(ini or alembic_ini()), ini_section=section)
    if database_url is not None:
        config.set_main_option("sqlalchemy.url", database_url)
        config.attributes["configure_logger"] = False
    return config


def upgrade_all(*, database_url: str | None = None, ini: Path | None = None) -> None:
    """Every service's history to its head, in the order of `ini`."""
    for section in service_sections(ini):
        command.upgrade(service_config(section, database_url=database_url, ini=ini), "head")


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


def run_migrations() -> None:
    """The body of the common `env.py`: migrate the service of the `alembic.ini` section this
    run was given (`alembic -n auth ...`), into its own schema.

    `sqlalchemy.url` in the config wins (the test harness sets it); else the service's
    DATABASE_URL setting, read only when needed, so a migration run that is given its URL does
    not build (and have production refuse) the service's whole settings."""
    config = context.config
    if config.config_file_name and config.attributes.get("configure_logger", True):
        fileConfig(config.config_file_name, disable_existing_loggers=False)
    history = ServiceHistory.of(config)
    url = config.get_main_option("sqlalchemy.url") or history.database_url()
    if context.is_offline_mode():
        _configure(None, history.metadata, history.schema, url=url, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    asyncio.run(_run_online(url, history.metadata, history.schema))


if __name__ == "__main__":
    if sys.argv[1:] != ["upgrade"]:
        raise SystemExit("usage: python -m common.db.migrations upgrade")
    upgrade_all()

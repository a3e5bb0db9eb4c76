"""Create the database named by DATABASE_URL (from the environment or `.env`) if it is missing."""

from __future__ import annotations

import asyncio
import sys

import asyncpg
from sqlalchemy.engine import make_url

from common.settings import ServiceSettings


async def ensure_database(url: str) -> None:
    target = make_url(url)
    name = target.database
    if not name:
        raise SystemExit("DATABASE_URL names no database")
    admin = target.set(drivername="postgresql", database="postgres")
    connection = await asyncpg.connect(admin.render_as_string(hide_password=False))
    try:
        exists = await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            await connection.execute(f'CREATE DATABASE "{name}"')
            sys.stdout.write(f"ensure-database: created {name}\n")
        else:
            sys.stdout.write(f"ensure-database: {name} exists\n")
    finally:
        await connection.close()


if __name__ == "__main__":
    asyncio.run(ensure_database(ServiceSettings().database_url))

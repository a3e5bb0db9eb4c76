"""Hot-path reads compiled once and run on the asyncpg driver connection.

A SQLAlchemy Core statement still describes the query (columns by model attribute, checked by
mypy); it is compiled once at import for asyncpg, and each execution goes straight to the
driver, which keeps it as a prepared statement per connection. That skips SQLAlchemy's
per-execution work (connection wrapper, events, result processing): about 0.45 ms of CPU per
request on the 2-core reference machine, the difference between ~650 and ~1,000 `/auth/me`
requests per second (bench/RESULTS.md). Use it for the few reads that dominate traffic, outside
any transaction; everything else goes through the session.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ClauseElement
from sqlalchemy.dialects.postgresql import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql.compiler import SQLCompiler

_DIALECT = asyncpg.dialect()  # type: ignore[no-untyped-call]  # SQLAlchemy leaves it untyped


class CompiledQuery:
    def __init__(self, statement: ClauseElement) -> None:
        compiled = statement.compile(dialect=_DIALECT)
        if not isinstance(compiled, SQLCompiler):
            raise TypeError("CompiledQuery takes a SQL statement")
        self.sql = compiled.string
        self.parameters = tuple(compiled.positiontup or ())
        # Values written into the statement (`state == "active"`) travel as parameters too.
        self.fixed = {
            name: bind.value for name, bind in compiled.binds.items() if not bind.required
        }
        self.required = frozenset(self.parameters) - self.fixed.keys()

    async def fetch_one(self, engine: AsyncEngine, **values: Any) -> dict[str, Any] | None:
        """The first row as a dict, or None. Every `bindparam` must be given by name."""
        missing = self.required - values.keys()
        if missing:
            raise TypeError(f"missing query parameters: {sorted(missing)}")
        arguments = [values[n] if n in values else self.fixed[n] for n in self.parameters]
        async with engine.connect() as connection:
            raw = await connection.get_raw_connection()
            driver: Any = raw.driver_connection  # asyncpg.Connection
            row = await driver.fetchrow(self.sql, *arguments)
        return dict(row) if row is not None else None

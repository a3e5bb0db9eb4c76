"""Hot-path statements compiled once and run on the asyncpg driver connection.

A SQLAlchemy Core statement still describes the query (columns by model attribute, checked by
mypy); it is compiled once at import for asyncpg, and each execution goes straight to the
driver, which keeps it as a prepared statement per connection. That skips SQLAlchemy's
per-execution work (connection wrapper, events, result processing): about 0.45 ms of CPU per
request on the 2-core reference machine, the difference between ~650 and ~1,000 `/auth/me`
requests per second (bench/RESULTS.md). Use it for the few statements that dominate traffic,
outside any transaction (a write that must be atomic is one statement: CTEs, `RETURNING`), from
a plainly named hot-path type that links decision 0007; everything else goes through a
repository bound to the session.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ClauseElement
from sqlalchemy.dialects.postgresql import asyncpg
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
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

    def _arguments(self, values: dict[str, Any]) -> list[Any]:
        missing = self.required - values.keys()
        if missing:
            raise TypeError(f"missing query parameters: {sorted(missing)}")
        return [values[n] if n in values else self.fixed[n] for n in self.parameters]

    async def first_row(self, engine: AsyncEngine, **values: Any) -> dict[str, Any] | None:
        """Run the statement (a SELECT, or a write with RETURNING) and give back the first row it
        returns, as a dict, or None. Every `bindparam` must be given by name."""
        arguments = self._arguments(values)
        async with engine.connect() as connection:
            driver = await _driver(connection)
            row = await driver.fetchrow(self.sql, *arguments)
        return dict(row) if row is not None else None

    async def run(self, engine: AsyncEngine, **values: Any) -> None:
        """Run a statement that returns nothing (a write without RETURNING)."""
        arguments = self._arguments(values)
        async with engine.connect() as connection:
            driver = await _driver(connection)
            await driver.execute(self.sql, *arguments)


async def _driver(connection: AsyncConnection) -> Any:
    """The asyncpg.Connection under SQLAlchemy's (asyncpg is untyped)."""
    raw = await connection.get_raw_connection()
    return raw.driver_connection

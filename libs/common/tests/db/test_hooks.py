"""Work registered to run after a commit runs after the commit, and never after a rollback."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from common.db import on_commit


class TestOnCommit:
    async def test_runs_once_after_the_commit(self, engine: AsyncEngine) -> None:
        ran: list[str] = []
        async with AsyncSession(engine) as session:
            await session.execute(text("SELECT 1"))
            on_commit(session, lambda: ran.append("first"))
            on_commit(session, lambda: ran.append("second"))
            assert ran == []
            await session.commit()
            assert ran == ["first", "second"]
            await session.execute(text("SELECT 1"))
            await session.commit()
        assert ran == ["first", "second"]

    async def test_a_rollback_drops_it(self, engine: AsyncEngine) -> None:
        ran: list[str] = []
        async with AsyncSession(engine) as session:
            await session.execute(text("SELECT 1"))
            on_commit(session, lambda: ran.append("rolled back"))
            await session.rollback()
            await session.execute(text("SELECT 1"))
            await session.commit()
        assert ran == []

    async def test_closing_without_commit_drops_it(self, engine: AsyncEngine) -> None:
        ran: list[str] = []
        async with AsyncSession(engine) as session:
            await session.execute(text("SELECT 1"))
            on_commit(session, lambda: ran.append("never"))
        assert ran == []

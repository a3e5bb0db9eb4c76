"""The one data-access shape: a repository object bound to the session of the unit of work.

    class UserRepository(Repository[User]):
        model = User

        async def get_by_email(self, email: str) -> User | None:
            return await self.session.scalar(select(User).where(User.email == email))

    users = UserRepository(session)          # in a service's __init__
    users.add(User(...))                     # written at the service's commit

A repository only reads and writes rows: it adds and flushes, never commits (the service that
made it owns the transaction), and its methods take domain arguments only, never a session, an
engine or a driver. The few measured hot paths that read or write without a session are
separate, plainly named types whose docstrings link decision 0007.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from common.db.base import Base

ModelT = TypeVar("ModelT", bound=Base)


class Repository(Generic[ModelT]):
    model: ClassVar[type[Any]]

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, id: Any) -> ModelT | None:  # noqa: A002 (the primary key)
        found: ModelT | None = await self.session.get(self.model, id)
        return found

    def add(self, obj: ModelT) -> ModelT:
        """Written with the session's next flush or commit."""
        self.session.add(obj)
        return obj

    async def create(self, obj: ModelT) -> ModelT:
        """Added and flushed: its server-side defaults are readable, and a constraint it breaks
        fails here, inside the service's transaction."""
        self.session.add(obj)
        await self.session.flush()
        return obj

    async def update(self, obj: ModelT, values: Mapping[str, Any]) -> ModelT:
        """Set the given attributes (PATCH semantics: what is not given stays) and flush."""
        for field, value in values.items():
            setattr(obj, field, value)
        await self.session.flush()
        return obj

    async def delete(self, obj: ModelT) -> None:
        await self.session.delete(obj)
        await self.session.flush()

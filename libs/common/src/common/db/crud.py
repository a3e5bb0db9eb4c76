"""Generic repository: the queries every table needs. Adds and flushes, never commits; the
service that called it owns the transaction."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from common.db.base import Base
from common.db.pagination import Page, PageParams, paginate

ModelT = TypeVar("ModelT", bound=Base)
CreateT = TypeVar("CreateT", bound=BaseModel)
UpdateT = TypeVar("UpdateT", bound=BaseModel)


class CRUDBase(Generic[ModelT, CreateT, UpdateT]):
    def __init__(self, model: type[ModelT]) -> None:
        self.model = model

    async def get(self, session: AsyncSession, id: Any) -> ModelT | None:  # noqa: A002
        return await session.get(self.model, id)

    async def get_multi(self, session: AsyncSession, *, params: PageParams) -> Page[ModelT]:
        """Newest first, by (created_at, id); models without those columns override this."""
        model: Any = self.model
        return await paginate(
            session, select(self.model), order_by=[model.created_at, model.id], params=params
        )

    async def create(self, session: AsyncSession, *, data: CreateT | Mapping[str, Any]) -> ModelT:
        values = data.model_dump() if isinstance(data, BaseModel) else dict(data)
        obj = self.model(**values)
        session.add(obj)
        await session.flush()
        return obj

    async def update(
        self, session: AsyncSession, *, obj: ModelT, data: UpdateT | Mapping[str, Any]
    ) -> ModelT:
        """Apply only the fields the client sent (PATCH semantics)."""
        values = data.model_dump(exclude_unset=True) if isinstance(data, BaseModel) else data
        for field, value in values.items():
            setattr(obj, field, value)
        await session.flush()
        return obj

    async def delete(self, session: AsyncSession, *, obj: ModelT) -> None:
        await session.delete(obj)
        await session.flush()

from __future__ import annotations

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from auth_service.models import ServiceClient
from common.db import CRUDBase


class ServiceClientCRUD(CRUDBase[ServiceClient, BaseModel, BaseModel]):
    async def get_by_name(
        self, session: AsyncSession, name: str, *, for_update: bool = False
    ) -> ServiceClient | None:
        statement = select(ServiceClient).where(ServiceClient.name == name)
        if for_update:
            statement = statement.with_for_update()
        return await session.scalar(statement)


service_clients = ServiceClientCRUD(ServiceClient)

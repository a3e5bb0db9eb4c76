from __future__ import annotations

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from auth_service.models import ServiceClient
from common.db import CRUDBase


class ServiceClientCRUD(CRUDBase[ServiceClient, BaseModel, BaseModel]):
    async def get_by_name(self, session: AsyncSession, name: str) -> ServiceClient | None:
        return await session.scalar(select(ServiceClient).where(ServiceClient.name == name))


service_clients = ServiceClientCRUD(ServiceClient)

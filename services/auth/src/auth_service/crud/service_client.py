from __future__ import annotations

from sqlalchemy import select

from auth_service.models import ServiceClient
from common.db import Repository


class ServiceClientRepository(Repository[ServiceClient]):
    model = ServiceClient

    async def get_by_name(self, name: str, *, for_update: bool = False) -> ServiceClient | None:
        statement = select(ServiceClient).where(ServiceClient.name == name)
        if for_update:
            statement = statement.with_for_update()
        return await self.session.scalar(statement)

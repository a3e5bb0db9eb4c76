"""The caller's own profile: `GET /auth/me`, the request every client makes all the time."""

from __future__ import annotations

import uuid

from auth_service.crud import AccountHotPath, Profile
from auth_service.exceptions import AccountInactive


class ProfileService:
    """Built from the hot path, not from a session (decision 0007): one statement, no
    transaction."""

    def __init__(self, hot_path: AccountHotPath) -> None:
        self.hot_path = hot_path

    async def read(self, user_id: uuid.UUID | None) -> Profile:
        """Refused if the account was deleted or deactivated since the token was issued."""
        profile = await self.hot_path.profile(user_id) if user_id else None
        if profile is None or not profile.is_active:
            raise AccountInactive
        return profile

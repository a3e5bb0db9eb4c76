"""Permissions the activity service checks. Reading one's own events (`/activity/me`, one's own
`/activity/{id}`) needs none."""

from __future__ import annotations

from typing import Annotated, Final

from common.security import Principal, require_permission

ACTIVITY_READ: Final = "activity:read"

PERMISSIONS: Final[dict[str, str]] = {
    ACTIVITY_READ: "Read every user's audit trail",
}

ActivityReader = Annotated[Principal, require_permission(ACTIVITY_READ)]

"""Permissions the activity service checks. The catalog lives in the auth service
(`auth_service/permissions.py`), which seeds them; the names must match.

Reading one's own events (`/activity/me`, one's own `/activity/{id}`) needs no permission.
"""

from __future__ import annotations

from typing import Final

ACTIVITY_READ: Final = "activity:read"

"""Permissions the release-notes service checks ("What's New"). Reading the published feed needs
`release_notes:read`; drafting, publishing and archiving need `release_notes:write`."""

from __future__ import annotations

from typing import Annotated, Final

from common.security import Principal, require_permission

RELEASE_NOTES_READ: Final = "release_notes:read"
RELEASE_NOTES_WRITE: Final = "release_notes:write"

PERMISSIONS: Final[dict[str, str]] = {
    RELEASE_NOTES_READ: "Read published release notes",
    RELEASE_NOTES_WRITE: "Write, publish and archive release notes",
}

ReleaseNotesReader = Annotated[Principal, require_permission(RELEASE_NOTES_READ)]
ReleaseNotesWriter = Annotated[Principal, require_permission(RELEASE_NOTES_WRITE)]

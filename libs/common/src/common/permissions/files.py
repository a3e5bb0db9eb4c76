"""Permissions the storage service checks. `files:read`/`files:write` reach one's own files;
the `:any` permissions reach everyone's (the scoping is explicit in code)."""

from __future__ import annotations

from typing import Annotated, Final

from common.security import Principal, require_permission

FILES_READ: Final = "files:read"
FILES_WRITE: Final = "files:write"
FILES_READ_ANY: Final = "files:read:any"
FILES_DELETE_ANY: Final = "files:delete:any"

PERMISSIONS: Final[dict[str, str]] = {
    FILES_READ: "Read own files",
    FILES_WRITE: "Upload and delete own files",
    FILES_READ_ANY: "Read anyone's files",
    FILES_DELETE_ANY: "Delete anyone's files",
}

FilesReader = Annotated[Principal, require_permission(FILES_READ)]
FilesWriter = Annotated[Principal, require_permission(FILES_WRITE)]
AnyFilesReader = Annotated[Principal, require_permission(FILES_READ_ANY)]
AnyFilesDeleter = Annotated[Principal, require_permission(FILES_DELETE_ANY)]

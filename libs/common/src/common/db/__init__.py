"""Database plumbing: base model, session factory, the repository base, keyset pagination.
Framework-free: the FastAPI dependencies that hand them to routes are `common.dependencies`."""

from common.db.base import Base, Timestamps, UUIDPrimaryKey, new_metadata, utcnow
from common.db.compiled import CompiledQuery
from common.db.hooks import on_commit
from common.db.pagination import (
    Page,
    PageParams,
    PageResponse,
    decode_cursor,
    encode_cursor,
    list_id,
    paginate,
)
from common.db.repository import Repository
from common.db.session import Database

__all__ = [
    "Base",
    "CompiledQuery",
    "Database",
    "Page",
    "PageParams",
    "PageResponse",
    "Repository",
    "Timestamps",
    "UUIDPrimaryKey",
    "decode_cursor",
    "encode_cursor",
    "list_id",
    "new_metadata",
    "on_commit",
    "paginate",
    "utcnow",
]

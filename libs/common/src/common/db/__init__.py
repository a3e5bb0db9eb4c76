"""Database plumbing: base model, session factory, generic repository, keyset pagination."""

from common.db.base import Base, Timestamps, UUIDPrimaryKey, new_metadata, utcnow
from common.db.compiled import CompiledQuery
from common.db.crud import CRUDBase
from common.db.hooks import on_commit
from common.db.pagination import (
    Page,
    PageParams,
    PageParamsDep,
    PageResponse,
    decode_cursor,
    encode_cursor,
    list_id,
    paginate,
)
from common.db.session import (
    Database,
    EngineDep,
    SessionDep,
    get_engine,
    get_session,
)

__all__ = [
    "Base",
    "CRUDBase",
    "CompiledQuery",
    "Database",
    "EngineDep",
    "Page",
    "PageParams",
    "PageParamsDep",
    "PageResponse",
    "SessionDep",
    "Timestamps",
    "UUIDPrimaryKey",
    "decode_cursor",
    "encode_cursor",
    "get_engine",
    "get_session",
    "list_id",
    "new_metadata",
    "on_commit",
    "paginate",
    "utcnow",
]

"""Declarative base of the auth service: every table lives in the `auth` schema."""

from common.db import Base, new_metadata

SCHEMA = "auth"


class AuthBase(Base):
    __abstract__ = True
    metadata = new_metadata(SCHEMA)

"""Declarative base of the activity service: every table lives in the `activity` schema."""

from common.db import Base, new_metadata

SCHEMA = "activity"


class ActivityBase(Base):
    __abstract__ = True
    metadata = new_metadata(SCHEMA)

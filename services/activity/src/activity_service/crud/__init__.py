"""Reads of the activity schema (a repository bound to the session), and the chain writer's
statements on the driver connection (the hot path, decision 0007). The table is append-only."""

from activity_service.crud.chain_statements import COLUMNS, ChainStatements
from activity_service.crud.event import EventRepository

__all__ = ["COLUMNS", "ChainStatements", "EventRepository"]

"""The audit event: one JSON document per Redis stream entry (field `event`), schema version `v`.

Every service records events in this shape; the activity service stores them. `metadata` never
carries secrets: values under keys that name one (password, token, secret, key, ...) and
anything shaped like a JWT or bearer token are replaced by "[redacted]" before the event
exists, and the whole document is size-bounded.

Whatever a stream entry holds, reading it either gives an event or raises `ValidationError`
with the field at fault: a time with no UTC value, a NaN or infinity, metadata nested deeper
than MAX_METADATA_DEPTH are validation errors, never other exceptions (the consumer must be
able to say why it refuses an entry, and to go on with the next).
"""

from __future__ import annotations

import json
import math
import re
import uuid
from datetime import UTC, datetime
from typing import Annotated, Final, Literal, cast, get_args

from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator

from common.logging import redact
from common.schemas import UtcDateTime

SCHEMA_VERSION: Literal[1] = 1
EVENT_FIELD = "event"
MAX_METADATA_BYTES = 16 * 1024
# The JSON document of a whole event: the largest valid one is metadata plus about 2 KiB. A
# consumer refuses bigger stream entries without parsing them.
MAX_EVENT_BYTES = 64 * 1024
# Levels of objects and arrays in `metadata`, itself the first: far more than an audit record
# needs, far less than what makes recursive code (ours, the JSON parsers') fail.
MAX_METADATA_DEPTH = 32
REDACTED = "[redacted]"

_SECRET_KEY = re.compile(
    r"pass(word|wd|phrase)?|secret|token|api[_-]?key|private[_-]?key|authorization|cookie|"
    r"credential|otp",
    re.IGNORECASE,
)

ActorType = Literal["user", "service", "system", "anonymous"]
Outcome = Literal["success", "failure"]
ACTOR_TYPES: Final[tuple[ActorType, ...]] = get_args(ActorType)
OUTCOMES: Final[tuple[Outcome, ...]] = get_args(Outcome)
# A service or resource type name, and an action (`auth.user.registered`): what the consumer
# stores and what the activity service's filters accept are these same patterns.
NAME_PATTERN: Final = r"^[a-z][a-z0-9_-]*$"
ACTION_PATTERN: Final = r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*){1,5}$"
Name = Annotated[str, Field(min_length=1, max_length=64, pattern=NAME_PATTERN)]
Action = Annotated[str, Field(max_length=128, pattern=ACTION_PATTERN)]


def check_json_shape(value: JsonValue) -> None:
    """Refuse what JSON parsers accept but JSON (and PostgreSQL's JSONB) cannot carry: NaN and
    infinities; and nesting deeper than MAX_METADATA_DEPTH. Iterative, so depth cannot hurt it."""
    stack: list[tuple[JsonValue, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            raise ValueError("metadata holds a number JSON cannot carry (NaN or infinity)")
        if isinstance(item, dict | list):
            if depth > MAX_METADATA_DEPTH:
                raise ValueError(f"metadata is nested deeper than {MAX_METADATA_DEPTH} levels")
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)


def scrub(value: JsonValue) -> JsonValue:
    """`value` with secrets replaced: by key name at any depth, and JWT/bearer-shaped strings."""
    if isinstance(value, dict):
        return {
            key: REDACTED if _SECRET_KEY.search(key) else scrub(item) for key, item in value.items()
        }
    if isinstance(value, list):
        return [scrub(item) for item in value]
    if isinstance(value, str):
        return redact(value)
    return value


class Actor(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    type: ActorType
    id: Annotated[str | None, Field(max_length=200)] = None
    ip: Annotated[str | None, Field(max_length=64)] = None
    user_agent: Annotated[str | None, Field(max_length=512)] = None


class Resource(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Name
    id: Annotated[str | None, Field(max_length=200)] = None


SYSTEM = Actor(type="system")
ANONYMOUS = Actor(type="anonymous")


class AuditEvent(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    v: Literal[1] = SCHEMA_VERSION
    id: uuid.UUID = Field(default_factory=uuid.uuid4)
    occurred_at: UtcDateTime = Field(default_factory=lambda: datetime.now(UTC))
    service: Name
    action: Action
    outcome: Outcome = "success"
    actor: Actor
    resource: Resource | None = None
    request_id: Annotated[str | None, Field(max_length=128)] = None
    metadata: dict[str, JsonValue] = Field(default_factory=dict)

    @field_validator("metadata")
    @classmethod
    def _no_secrets(cls, value: dict[str, JsonValue]) -> dict[str, JsonValue]:
        check_json_shape(value)  # first: scrubbing recurses
        scrubbed = cast(dict[str, JsonValue], scrub(value))
        if len(json.dumps(scrubbed, separators=(",", ":")).encode()) > MAX_METADATA_BYTES:
            raise ValueError(f"metadata is larger than {MAX_METADATA_BYTES} bytes")
        return scrubbed

    def to_json(self) -> str:
        return self.model_dump_json()

    @classmethod
    def from_json(cls, document: str | bytes) -> AuditEvent:
        return cls.model_validate_json(document)

    def stream_fields(self) -> dict[str, str]:
        return {EVENT_FIELD: self.to_json()}

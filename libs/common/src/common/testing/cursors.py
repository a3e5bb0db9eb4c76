"""Cursors as a client could forge them, for the tests of lists that must refuse them with a
422 `invalid_cursor` (and never pass them on to a query)."""

from __future__ import annotations

import base64
import json
from typing import Any


def cursor_of(payload: bytes) -> str:
    """Any bytes, wrapped the way a cursor is (url-safe base64, no padding)."""
    return base64.urlsafe_b64encode(payload).decode().rstrip("=")


def reforged(cursor: str, **changes: Any) -> str:
    """A real `next_cursor` with some of its JSON members replaced, e.g. `after=[True]`: what
    someone who decoded one can send. The result names the same list as the original."""
    padded = cursor + "=" * (-len(cursor) % 4)
    document = json.loads(base64.urlsafe_b64decode(padded))
    document.update(changes)
    return cursor_of(json.dumps(document).encode())

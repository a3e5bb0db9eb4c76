"""Every service's permissions in one mapping (name → description), the list auth seeds."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from common.permissions import activity, auth, files, release_notes


def _merged(*parts: Mapping[str, str]) -> dict[str, str]:
    """The union of the services' permissions; two services may not claim one name."""
    merged: dict[str, str] = {}
    for part in parts:
        taken = merged.keys() & part.keys()
        if taken:
            raise ValueError(f"permissions declared twice: {sorted(taken)}")
        merged.update(part)
    return merged


CATALOG: Final[Mapping[str, str]] = _merged(
    auth.PERMISSIONS,
    activity.PERMISSIONS,
    release_notes.PERMISSIONS,
    files.PERMISSIONS,
)

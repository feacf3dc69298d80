"""Ids from clients: every entity id is a UUID; anything else names nothing."""

from __future__ import annotations

import uuid


def uuid_or_none(value: object) -> uuid.UUID | None:
    """The UUID a client sent, or None when it cannot be one (so it names no row: not found, not an error)."""
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None

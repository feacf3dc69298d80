"""Ids and idempotency keys from clients, read by one rule in every service.

Every entity id is a UUID. Where a client *names* a row (an entity reference, `order(id)`), anything else
names nothing: `uuid_or_none`, so the answer is "not found". Where an argument must be an id (a mutation's
`productId`), anything else is the client's mistake: `parse_uuid` answers BAD_USER_INPUT naming the field.
"""

from __future__ import annotations

import re
import uuid

from shared.errors import BadUserInput

# The longest idempotency key a service stores (its `key` columns are `String(200)`, orders' `String(100)`).
IDEMPOTENCY_KEY_MAX_LENGTH = 200
_IDEMPOTENCY_KEY = re.compile(r"[A-Za-z0-9._:-]+")


def uuid_or_none(value: object) -> uuid.UUID | None:
    """The UUID a client sent, or None when it cannot be one (so it names no row: not found, not an error)."""
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def parse_uuid(value: object, field: str, what: str = "an id") -> uuid.UUID:
    """The UUID in argument `field`, or BAD_USER_INPUT naming the field (`what`: "a product id")."""
    parsed = uuid_or_none(value)
    if parsed is None:
        raise BadUserInput(f"`{field}` is not {what}.", field=field)
    return parsed


def clean_key(value: object, *, field: str = "key", max_length: int = IDEMPOTENCY_KEY_MAX_LENGTH) -> str:
    """An idempotency key, kept exactly as sent (it is an identity, not text to tidy): 1 to `max_length`
    letters, digits and `. _ : -`; BAD_USER_INPUT naming `field` otherwise."""
    if not isinstance(value, str) or len(value) > max_length or not _IDEMPOTENCY_KEY.fullmatch(value):
        raise BadUserInput(
            f"An idempotency key is 1 to {max_length} letters, digits and . _ : -", field=field
        )
    return value

"""Text rules every products input follows (the catalog's fields, variants' options, search filters): one
wording of each refusal, with the field it is about."""

from __future__ import annotations

from shared.errors import BadUserInput


def require_str(value: object, field: str) -> str:
    if value is None:
        raise BadUserInput(f"`{field}` cannot be null.", field=field)
    if not isinstance(value, str):
        raise BadUserInput(f"`{field}` must be a string.", field=field)
    return value


def bounded_text(value: object, field: str, *, maximum: int, minimum: int = 1) -> str:
    """`value` stripped, `minimum` to `maximum` characters long."""
    text = require_str(value, field).strip()
    if len(text) < minimum:
        raise BadUserInput(f"`{field}` cannot be blank.", field=field)
    if len(text) > maximum:
        raise BadUserInput(f"`{field}` is at most {maximum} characters.", field=field)
    return text


def single_line(value: object, field: str, *, maximum: int) -> str:
    """`bounded_text` without control characters (option names and values: a facet token joins them with the
    unit separator, and a line break has no place in a size or a colour)."""
    text = bounded_text(value, field, maximum=maximum)
    if any(ord(character) < 32 or ord(character) == 127 for character in text):
        raise BadUserInput(f"`{field}` cannot hold control characters.", field=field)
    return text

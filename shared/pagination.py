"""Cursor pagination: opaque, versioned cursors over a keyset, and the GraphQL connection types."""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Generic, TypeVar

import orjson
import strawberry

from shared.errors import BadUserInput

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100

T = TypeVar("T")


# Every subgraph with a connection defines PageInfo: Federation 2 composes that only when it is shareable.
@strawberry.federation.type(shareable=True)
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type
class Connection(Generic[T]):
    """Strawberry names it after the node type: `Connection[Product]` prints as `ProductConnection`."""

    edges: list[Edge[T]]
    page_info: PageInfo
    total_count: int | None = None

    @strawberry.field
    def nodes(self) -> list[T]:
        return [edge.node for edge in self.edges]


def page_size(first: int | None, *, default: int = DEFAULT_PAGE_SIZE, maximum: int = MAX_PAGE_SIZE) -> int:
    if first is None:
        return default
    if first < 1 or first > maximum:
        raise BadUserInput(f"`first` must be between 1 and {maximum}.", field="first")
    return first


def encode_cursor(kind: str, key: Sequence[Any]) -> str:
    """`kind` names the ordering the key belongs to, so a cursor of one listing is refused by another."""
    return _base64url(orjson.dumps({"v": 1, "k": kind, "p": list(key)}))


def cursor_encoder(kind: str) -> Callable[[list[Any]], str]:
    """`encode_cursor` for the keys of one page, all of one `kind`: the same cursors, the JSON and base64 of
    what they share encoded once. Base64 encodes each 3 bytes on their own, so the shared head up to a
    multiple of 3 bytes is encoded once and the rest (its last bytes, then the key) per cursor. A search
    page's cursors cost half as many instructions."""
    head = orjson.dumps({"v": 1, "k": kind, "p": []}).removesuffix(b"[]}")  # {"v":1,"k":"...","p":
    split = len(head) - len(head) % 3
    encoded_head, tail = _base64url(head[:split]), head[split:]
    dumps = orjson.dumps

    def encode(key: list[Any]) -> str:
        return encoded_head + _base64url(tail + dumps(key) + b"}")

    return encode


def _base64url(raw: bytes) -> str:
    """URL-safe base64 without padding (`base64.urlsafe_b64encode`, its two layers of calls skipped)."""
    return binascii.b2a_base64(raw, newline=False).translate(_URLSAFE).rstrip(b"=").decode()


_URLSAFE = bytes.maketrans(b"+/", b"-_")


def decode_cursor(cursor: str, kind: str, *, field: str = "after") -> list[Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = orjson.loads(raw)
    except (binascii.Error, ValueError, orjson.JSONDecodeError) as exc:
        raise BadUserInput("Invalid cursor.", field=field) from exc
    if (
        not isinstance(data, dict)
        or data.get("v") != 1
        or data.get("k") != kind
        or not isinstance(data.get("p"), list)
    ):
        raise BadUserInput("Invalid cursor.", field=field)
    return data["p"]


def connection(
    nodes: Sequence[Any],
    *,
    size: int,
    cursor_of: Any,
    has_previous: bool,
    total_count: int | None = None,
    node_of: Any = None,
) -> Connection[Any]:
    """Build a connection from up to `size + 1` fetched nodes (the extra one tells there is a next page).
    `node_of`: what an edge shows of a fetched item (its cursor is the item's), in the same pass."""
    edges = [
        Edge(cursor=cursor_of(item), node=item if node_of is None else node_of(item)) for item in nodes[:size]
    ]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=len(nodes) > size,
            has_previous_page=has_previous,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
        total_count=total_count,
    )


def newest_first_cursor(kind: str, created_at: datetime, row_id: object) -> str:
    """A cursor of a newest-first listing: the row's (created_at, id) keyset position."""
    return encode_cursor(kind, [created_at.isoformat(), str(row_id)])


def newest_first_position(cursor: str, kind: str, *, field: str = "after") -> tuple[datetime, uuid.UUID]:
    """The (created_at, id) position a `newest_first_cursor` holds; BAD_USER_INPUT for anything else."""
    key = decode_cursor(cursor, kind, field=field)
    if len(key) == 2 and isinstance(key[0], str) and isinstance(key[1], str):
        try:
            created_at, row_id = datetime.fromisoformat(key[0]), uuid.UUID(key[1])
        except ValueError:
            pass
        else:
            if created_at.tzinfo is not None:
                return created_at, row_id
    raise BadUserInput("Invalid cursor.", field=field)

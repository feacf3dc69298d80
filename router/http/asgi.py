"""The ASGI types the doors speak, and one plain response."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from router.execution.executor import GATEWAY_TIMEOUT
from router.pipeline.errors import Headers, MalformedRequest, RequestError

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

JSON_CONTENT_TYPE = b"application/json; charset=utf-8"


class ClientGone(Exception):
    """The client disconnected before its request was read."""


async def respond(send: Send, status: int, body: bytes, content_type: bytes, headers: Headers = ()) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def refusal_status(refused: RequestError, plain_json: bool) -> int:
    """The HTTP status of a refused GraphQL request: `application/json` answers a GraphQL request error with
    200 (what clients before the GraphQL-over-HTTP spec expect, Apollo Client among them), the spec's own
    media type with 400; a request that is no GraphQL request (CSRF, a malformed body) keeps its status."""
    if refused.status == 400 and plain_json and not isinstance(refused, MalformedRequest):
        return 200
    return refused.status


def answer_status(response: dict[str, Any]) -> int:
    """200, or 504 for a request out of time with nothing to show (data null, GATEWAY_TIMEOUT): still a
    GraphQL body."""
    errors = response.get("errors")
    if response.get("data") is None and errors:
        if any((error.get("extensions") or {}).get("code") == GATEWAY_TIMEOUT for error in errors):
            return 504
    return 200

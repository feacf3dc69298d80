"""Every way a request is refused, once: a stage raises RequestError with the GraphQL errors to answer, the
HTTP status they mean and the headers that go with them. Each door only frames it (an HTTP response, the
answer to an SSE request, a WebSocket `error` message); none decides what the refusal is."""

from __future__ import annotations

from typing import Any

import orjson
from graphql import GraphQLError

from shared.errors import (
    BAD_USER_INPUT,
    GRAPHQL_PARSE_FAILED,
    GRAPHQL_VALIDATION_FAILED,
    INTERNAL,
    RATE_LIMITED,
    UNAUTHENTICATED,
)

# The codes the pipeline answers with beside shared.errors' (subgraphs' own codes pass through unchanged).
BAD_REQUEST = "BAD_REQUEST"
PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
MAX_DEPTH_EXCEEDED = "MAX_DEPTH_EXCEEDED"
MAX_ALIASES_EXCEEDED = "MAX_ALIASES_EXCEEDED"
MAX_ROOT_FIELDS_EXCEEDED = "MAX_ROOT_FIELDS_EXCEEDED"
MAX_HEIGHT_EXCEEDED = "MAX_HEIGHT_EXCEEDED"
MAX_FIELD_MERGES_EXCEEDED = "MAX_FIELD_MERGES_EXCEEDED"
OPERATION_RESOLUTION_FAILURE = "OPERATION_RESOLUTION_FAILURE"
METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
SUBSCRIPTION_TRANSPORT_REQUIRED = "SUBSCRIPTION_TRANSPORT_REQUIRED"
QUERY_PLANNING_FAILED = "QUERY_PLANNING_FAILED"
# Demand control (router/pipeline/cost.py), Apollo Router's codes.
COST_ESTIMATED_TOO_EXPENSIVE = "COST_ESTIMATED_TOO_EXPENSIVE"
COST_QUERY_PARSE_FAILURE = "COST_QUERY_PARSE_FAILURE"
# A request a browser could send cross-site without a preflight (router/pipeline/edge/csrf.py).
CSRF_ERROR = "CSRF_ERROR"
# `__schema`/`__type` while introspection is off (router/pipeline/introspection.py).
INTROSPECTION_DISABLED = "INTROSPECTION_DISABLED"

__all__ = [
    "BAD_REQUEST",
    "BAD_USER_INPUT",
    "COST_ESTIMATED_TOO_EXPENSIVE",
    "COST_QUERY_PARSE_FAILURE",
    "CSRF_ERROR",
    "GRAPHQL_PARSE_FAILED",
    "GRAPHQL_VALIDATION_FAILED",
    "INTERNAL",
    "INTROSPECTION_DISABLED",
    "MAX_ALIASES_EXCEEDED",
    "MAX_DEPTH_EXCEEDED",
    "MAX_FIELD_MERGES_EXCEEDED",
    "MAX_HEIGHT_EXCEEDED",
    "MAX_ROOT_FIELDS_EXCEEDED",
    "METHOD_NOT_ALLOWED",
    "OPERATION_RESOLUTION_FAILURE",
    "PAYLOAD_TOO_LARGE",
    "QUERY_PLANNING_FAILED",
    "RATE_LIMITED",
    "SUBSCRIPTION_TRANSPORT_REQUIRED",
    "UNAUTHENTICATED",
    "MalformedRequest",
    "RequestError",
    "error",
    "graphql_error",
    "internal_error",
]

Headers = tuple[tuple[bytes, bytes], ...]


def error(message: str, code: str, **extensions: Any) -> dict[str, Any]:
    """One GraphQL error with its `extensions.code`."""
    return {"message": message, "extensions": {"code": code, **extensions}}


def graphql_error(exc: GraphQLError, code: str) -> dict[str, Any]:
    """graphql-core's error as the client sees it (message, locations, path), with `code`."""
    formatted = dict(exc.formatted)
    formatted["extensions"] = {**(formatted.get("extensions") or {}), "code": code}
    return formatted


class RequestError(Exception):
    """The request cannot run: its `errors`, the HTTP `status` they mean, and `headers` to send with them
    (`allow`, `retry-after`, `www-authenticate`, `cache-control`)."""

    def __init__(self, errors: list[dict[str, Any]], status: int = 400, headers: Headers = ()) -> None:
        super().__init__(errors[0]["message"] if errors else "bad request")
        self.errors = errors
        self.status = status
        self.headers = headers

    @classmethod
    def of(cls, message: str, code: str, status: int = 400, headers: Headers = ()) -> RequestError:
        return cls([error(message, code)], status, headers)

    @property
    def code(self) -> str | None:
        """The first error's code."""
        return self.errors[0]["extensions"]["code"] if self.errors else None

    def body(self) -> bytes:
        return orjson.dumps({"errors": self.errors})


class MalformedRequest(RequestError):
    """Not a GraphQL request at all (a body that is not JSON, parameters of the wrong type, a method or media
    type the door does not take): its status is the answer's whatever the media type (GraphQL over HTTP)."""


def internal_error() -> RequestError:
    """What an unexpected failure answers: no stack trace, SQL or secret ever reaches a client."""
    return RequestError.of("internal error", INTERNAL, 500)

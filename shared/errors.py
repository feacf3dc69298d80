"""Domain errors that become GraphQL errors with `extensions.code` (and `field` where it helps)."""

from __future__ import annotations

from typing import Any, ClassVar

# Codes a client can see; anything else is masked as INTERNAL.
UNAUTHENTICATED = "UNAUTHENTICATED"
FORBIDDEN = "FORBIDDEN"
BAD_USER_INPUT = "BAD_USER_INPUT"
NOT_FOUND = "NOT_FOUND"
CONFLICT = "CONFLICT"
RATE_LIMITED = "RATE_LIMITED"
# PostgreSQL or Redis unreachable for a moment (a restart, a failover): try again; a write with the same
# idempotency key never acts twice.
SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
INTERNAL = "INTERNAL"
# Set by the GraphQL layer itself (Apollo's names), not raised by our code.
GRAPHQL_PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
GRAPHQL_VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"


class MyShopError(Exception):
    """A failure the client caused or may act on; its message is safe to show."""

    code: ClassVar[str] = INTERNAL

    def __init__(self, message: str, *, field: str | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.extra = extra

    @property
    def extensions(self) -> dict[str, Any]:
        # graphql-core copies `extensions` of the original exception onto the GraphQL error.
        ext: dict[str, Any] = {"code": self.code}
        if self.field is not None:
            ext["field"] = self.field
        ext.update(self.extra)
        return ext


class Unauthenticated(MyShopError):
    code = UNAUTHENTICATED


class Forbidden(MyShopError):
    code = FORBIDDEN


class BadUserInput(MyShopError):
    code = BAD_USER_INPUT


class NotFound(MyShopError):
    code = NOT_FOUND


class Conflict(MyShopError):
    code = CONFLICT


class RateLimited(MyShopError):
    code = RATE_LIMITED

    def __init__(self, message: str, *, retry_after: int, **extra: Any) -> None:
        super().__init__(message, retryAfter=retry_after, **extra)
        self.retry_after = retry_after

"""Whether a failure means PostgreSQL or Redis could not be reached (down, restarting, failing over, a
connection cut) rather than a fault of ours: such a request answers SERVICE_UNAVAILABLE and may be tried
again. Its own module: the router imports `shared.outage` and must not load the database and Redis clients."""

from __future__ import annotations

import asyncio

import asyncpg
from redis import exceptions as redis_errors
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

# PostgreSQL or Redis not reachable, starting, stopping or gone mid-request: not a fault of ours, and the
# request may be tried again.
_CUT_OFF: tuple[type[BaseException], ...] = (
    OSError,  # refused, reset, unreachable
    PoolTimeout,  # every pooled connection busy past the pool's wait: overloaded, not broken
    asyncio.TimeoutError,
    asyncpg.CannotConnectNowError,  # starting up, shutting down, in recovery
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.TooManyConnectionsError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    redis_errors.ConnectionError,
    redis_errors.TimeoutError,
    redis_errors.ClusterDownError,
    redis_errors.RedisClusterUnreachableError,
    redis_errors.SlotNotCoveredError,
)


def unavailable(exc: BaseException) -> bool:
    """Whether `exc` (or what caused it) says PostgreSQL or Redis could not be reached, rather than a bug."""
    seen: set[int] = set()
    stack: list[BaseException | None] = [exc]
    while stack:
        error = stack.pop()
        if error is None or id(error) in seen:
            continue
        seen.add(id(error))
        if isinstance(error, _CUT_OFF):
            return True
        if isinstance(error, DBAPIError):
            if error.connection_invalidated:
                return True
            stack.append(error.orig)
        stack.extend((error.__cause__, error.__context__))
    return False

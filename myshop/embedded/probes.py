"""Whether the configured PostgreSQL and Redis answer, and why not, phrased for a person."""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Coroutine
from typing import Any, TypeVar
from urllib.parse import urlsplit

import redis
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from myshop.embedded.base import NO_RETRY

_T = TypeVar("_T")


def postgres_reachable(url: str, timeout: float = 2.0) -> bool:
    """Whether the PostgreSQL server at the SQLAlchemy `url` accepts us and answers a query."""
    return postgres_problem_at(url, timeout) is None


def redis_reachable(url: str, timeout: float = 2.0) -> bool:
    """Whether the Redis-protocol server at the redis-py `url` accepts us and answers PING."""
    return redis_problem_at(url, timeout) is None


def postgres_problem_at(url: str, timeout: float = 2.0) -> str | None:
    """None when `url` answers a query, else why not, phrased to follow "PostgreSQL at X"."""

    async def select_1() -> None:
        # The services' own path (SQLAlchemy's asyncpg dialect), so URL quirks such as `?host=` for a Unix
        # socket are judged exactly as they will be used.
        async_url = make_url(url).set(drivername="postgresql+asyncpg")
        engine = create_async_engine(async_url, poolclass=NullPool, connect_args={"timeout": timeout})
        try:
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        finally:
            await engine.dispose()

    try:
        _run_sync(asyncio.wait_for(select_1(), timeout * 2))
    except Exception as exc:
        return _problem(exc)
    return None


def redis_problem_at(url: str, timeout: float = 2.0) -> str | None:
    """None when `url` answers PING, else why not, phrased to follow "Redis at X"."""
    try:
        client = redis.Redis.from_url(
            url, socket_connect_timeout=timeout, socket_timeout=timeout, retry=NO_RETRY
        )
        try:
            client.ping()
        finally:
            client.close()
    except Exception as exc:
        return _problem(exc)
    return None


def _problem(exc: BaseException) -> str:
    # A server that refuses us (bad password, missing database) deserves a different message than none at all.
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = getattr(current, "orig", None) or current.__cause__ or current.__context__
    refused = any(isinstance(e, redis.AuthenticationError) for e in chain)  # a ConnectionError in redis-py
    if not refused and any(
        isinstance(e, OSError | redis.ConnectionError | redis.TimeoutError) for e in chain
    ):
        return "is unreachable"
    detail = str(chain[-1]).strip().splitlines()
    return f"rejected the connection ({detail[0] if detail else type(chain[-1]).__name__})"


def _run_sync(coro: Coroutine[Any, Any, _T]) -> _T:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    # Called from async code: asyncio.run cannot nest, so the probe gets a loop of its own in a worker thread.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def postgres_location(url: str) -> str:
    parsed = make_url(url)
    host = parsed.query.get("host") or parsed.host or "localhost"
    if not isinstance(host, str):
        host = ",".join(host)
    return host if host.startswith("/") else f"{host}:{parsed.port or 5432}"


def redis_location(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return parts.path
    return f"{parts.hostname or 'localhost'}:{parts.port or 6379}"

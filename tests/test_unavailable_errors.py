"""A request that finds PostgreSQL or Redis unreachable answers SERVICE_UNAVAILABLE (try again), not INTERNAL;
a bug still answers INTERNAL. The exceptions are the real ones, from real clients."""

from __future__ import annotations

import os

import pytest
from graphql import GraphQLError
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from myshop.servers import free_port
from shared import errors
from shared.graphql_lifecycle import shape_error


async def raised_by(coro) -> BaseException:
    with pytest.raises(Exception) as caught:
        await coro
    return caught.value


def shaped(original: BaseException) -> GraphQLError:
    return shape_error(GraphQLError(str(original), path=["placeOrder"], original_error=original))


async def test_postgresql_unreachable_answers_service_unavailable() -> None:
    url = make_url(os.environ["MYSHOP_POSTGRES_URL"]).set(port=free_port())
    engine = create_async_engine(url, connect_args={"timeout": 2})
    try:
        original = await raised_by(engine.connect().__aenter__())
    finally:
        await engine.dispose()
    error = shaped(original)
    assert error.extensions == {"code": errors.SERVICE_UNAVAILABLE}
    assert error.path == ["placeOrder"]


async def test_redis_unreachable_answers_service_unavailable() -> None:
    redis = Redis(port=free_port(), socket_connect_timeout=2)
    try:
        original = await raised_by(redis.ping())
    finally:
        await redis.aclose()
    assert shaped(original).extensions == {"code": errors.SERVICE_UNAVAILABLE}


async def test_a_bad_statement_still_answers_internal() -> None:
    engine = create_async_engine(os.environ["MYSHOP_POSTGRES_URL"])
    try:
        async with engine.connect() as connection:
            original = await raised_by(connection.execute(text("SELECT no_such_column FROM pg_class")))
    finally:
        await engine.dispose()
    error = shaped(original)
    assert error.extensions == {"code": errors.INTERNAL}
    assert error.message == "Internal server error."


async def test_every_pooled_connection_busy_answers_service_unavailable() -> None:
    engine = create_async_engine(
        os.environ["MYSHOP_POSTGRES_URL"], pool_size=1, max_overflow=0, pool_timeout=0.2
    )
    try:
        async with engine.connect():
            original = await raised_by(engine.connect().__aenter__())
    finally:
        await engine.dispose()
    assert shaped(original).extensions == {"code": errors.SERVICE_UNAVAILABLE}

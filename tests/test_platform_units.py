"""Rate limits (real Redis) and opaque cursors."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db import interval_seconds
from shared.errors import BadUserInput, RateLimited
from shared.pagination import cursor_encoder, decode_cursor, encode_cursor, page_size
from shared.ratelimit import Limit, RateLimiter


async def test_a_rate_limit_refuses_past_its_attempts_and_tells_when_to_retry(redis: Redis) -> None:
    limiter = RateLimiter(redis, f"test:ratelimit:{time.time_ns()}:")
    limit = Limit(attempts=3, window_seconds=30)
    for _ in range(3):
        await limiter.enforce("login:a@example.com", limit, "too many")
    with pytest.raises(RateLimited) as refused:
        await limiter.enforce("login:a@example.com", limit, "too many")
    assert 0 < refused.value.extensions["retryAfter"] <= 30
    # Another bucket is untouched, and a reset clears the first.
    await limiter.enforce("login:b@example.com", limit, "too many")
    await limiter.reset("login:a@example.com")
    await limiter.enforce("login:a@example.com", limit, "too many")


def test_a_cursor_round_trips_and_is_refused_by_another_listing() -> None:
    cursor = encode_cursor("products:newest", ["2026-01-01T00:00:00", "abc"])
    assert decode_cursor(cursor, "products:newest") == ["2026-01-01T00:00:00", "abc"]
    with pytest.raises(BadUserInput):
        decode_cursor(cursor, "users:created")


# Kinds whose shared head is 0, 1 and 2 bytes past a multiple of 3; keys of each JSON type a cursor holds.
@pytest.mark.parametrize("kind", ["k", "ki", "kin", "products:relevance:c90cfe686dc2a19d", "ü/+?"])
@pytest.mark.parametrize(
    "key",
    [[0.9976013898849487, "b0b8fec4-d2ef-5a67-9f0d-24b0db63abdd"], [1999, "x"], ["2026-01-01T00:00:00"], []],
)
def test_a_page_encoder_makes_the_cursors_encode_cursor_makes(kind: str, key: list[object]) -> None:
    encode = cursor_encoder(kind)
    assert encode(key) == encode_cursor(kind, key)
    assert decode_cursor(encode(key), kind) == key


@pytest.mark.parametrize("cursor", ["", "!!!", "bm90IGpzb24", encode_cursor("x", [1])[:-3], "eyJ2IjoyfQ"])
def test_a_malformed_cursor_is_bad_user_input(cursor: str) -> None:
    with pytest.raises(BadUserInput) as refused:
        decode_cursor(cursor, "x")
    assert refused.value.extensions == {"code": "BAD_USER_INPUT", "field": "after"}


@pytest.mark.parametrize("first", [0, -1, 101, 100000])
def test_page_size_out_of_range_is_bad_user_input(first: int) -> None:
    with pytest.raises(BadUserInput):
        page_size(first)


@pytest.mark.parametrize("seconds", [2.2e-05, 0.5, 90061.25])
async def test_an_interval_of_seconds_is_exact_however_small(
    engines: dict[str, AsyncEngine], seconds: float
) -> None:
    # A tiny jittered retry delay once read `2.2e-05 seconds` in the SQL text, which PostgreSQL refuses.
    async with engines["orders"].connect() as conn:
        value = await conn.scalar(select(interval_seconds(seconds)))
    assert value == timedelta(seconds=seconds)

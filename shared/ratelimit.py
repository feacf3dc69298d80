"""Fixed-window rate limits in Redis, so a limit holds across every replica of a service."""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

from shared.errors import RateLimited


@dataclass(frozen=True, slots=True)
class Limit:
    attempts: int
    window_seconds: int


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    count: int
    retry_after: int


class RateLimiter:
    def __init__(self, redis: Redis, prefix: str) -> None:
        self.redis = redis
        self.prefix = prefix

    async def hit(self, bucket: str, limit: Limit) -> Decision:
        """Count one attempt in `bucket`; allowed while the window holds at most `limit.attempts`."""
        key = f"{self.prefix}ratelimit:{bucket}"
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            # NX: the window starts at the first attempt and is not pushed back by later ones.
            pipe.expire(key, limit.window_seconds, nx=True)
            pipe.ttl(key)
            count, _, ttl = await pipe.execute()
        retry_after = ttl if ttl and ttl > 0 else limit.window_seconds
        return Decision(allowed=count <= limit.attempts, count=count, retry_after=retry_after)

    async def enforce(self, bucket: str, limit: Limit, message: str) -> None:
        decision = await self.hit(bucket, limit)
        if not decision.allowed:
            raise RateLimited(message, retry_after=decision.retry_after)

    async def reset(self, bucket: str) -> None:
        await self.redis.delete(f"{self.prefix}ratelimit:{bucket}")

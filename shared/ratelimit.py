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

    async def forgive(self, bucket: str) -> None:
        """Takes back one attempt counted in `bucket` (it turned out not to count: a success where only
        failures should). Counting first and forgiving after keeps the limit exact under concurrency, which
        checking first and counting failures after would not. A window that has ended stays ended: a key
        gone is not made again (a bare DECR would leave -1 without an expiry)."""
        await self.redis.eval(_FORGIVE, 1, f"{self.prefix}ratelimit:{bucket}")


_FORGIVE = """
if redis.call('exists', KEYS[1]) == 1 and tonumber(redis.call('get', KEYS[1])) > 0 then
  return redis.call('decr', KEYS[1])
end
return 0
"""

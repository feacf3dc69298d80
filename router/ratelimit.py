"""The per-client rate limit at the router's edge: a fixed window per client counted in Redis (one pipelined
round trip, shared.ratelimit), so the limit holds across every router replica.

The client is the verified JWT's subject when edge authentication is on and the request has a token, else the
peer's IP address. Redis down or slow: the request passes uncounted (fail open: a rate limit protects the
shop, it must not take it down), with one WARNING when the outage starts and one INFO when it ends; while it
lasts Redis is tried again after a growing pause, not on every request.
"""

from __future__ import annotations

import asyncio
import logging
import time

from redis.asyncio import Redis
from redis.exceptions import RedisError

from router.traffic_config import RateLimitConfig
from shared.outage import Outage
from shared.ratelimit import Limit, RateLimiter

logger = logging.getLogger(__name__)

RATE_LIMITED = "RATE_LIMITED"


class ClientRateLimit:
    def __init__(self, config: RateLimitConfig) -> None:
        self.timeout = config.redis_timeout
        self.redis = Redis.from_url(
            config.redis_url, socket_timeout=config.redis_timeout, socket_connect_timeout=config.redis_timeout
        )
        self.limiter = RateLimiter(self.redis, config.key_prefix)
        self.limit = Limit(attempts=config.requests, window_seconds=config.window_seconds)
        self.outage = Outage(logger, max_backoff=5.0)
        self._next_try = 0.0
        self.limited = 0

    async def retry_after(self, client: str) -> int | None:
        """Counts a request of `client`: the seconds it must wait when over its limit, else None."""
        if self._next_try and time.monotonic() < self._next_try:
            return None
        try:
            async with asyncio.timeout(self.timeout):
                decision = await self.limiter.hit(client, self.limit)
        except (RedisError, OSError) as exc:  # OSError covers TimeoutError
            self.outage.failed(
                "the router's rate limit cannot reach Redis (%s): requests pass uncounted until it is back",
                f"{type(exc).__name__}: {exc}",
            )
            self._next_try = time.monotonic() + self.outage.backoff
            return None
        if self._next_try:
            self._next_try = 0.0
            self.outage.recovered("the router's rate limit reaches Redis again after %.1f s")
        if decision.allowed:
            return None
        self.limited += 1
        return decision.retry_after

    async def close(self) -> None:
        await self.redis.aclose()

"""The per-client rate limit at the router's edge: a fixed window per client counted in Redis (one pipelined
round trip, shared.ratelimit), so the limit holds across every router replica. Every operation counts,
whichever door it came through (an HTTP request, an SSE request, each `subscribe` on a WebSocket).

The client is the verified JWT's subject when edge authentication is on and the request has a token, else its
address as router/http/client_address.py computes it (the TCP peer, or the right-most untrusted hop of a
trusted proxy's `X-Forwarded-For`): a client rotating a forged header still counts as one. Redis down or
slow: the request passes uncounted (fail open: a rate limit protects the shop, it must not take it down),
with one WARNING when the outage starts and one INFO when it ends; while it lasts Redis is tried again after a
growing pause, not on every request.
"""

from __future__ import annotations

import asyncio
import logging
import time

from pydantic import BaseModel, ConfigDict, Field

from router.durations import Seconds
from router.pipeline.errors import RATE_LIMITED, RequestError, error
from shared.outage import Outage

logger = logging.getLogger(__name__)


class RateLimitConfig(BaseModel):
    """router.yaml's `rate_limit:`. Requests per client (the verified JWT `sub`, else the client's address)
    per fixed window, counted in Redis so the limit holds across router replicas. Redis down: requests pass
    (fail open), one log line per outage."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = False
    requests: int = Field(100, ge=1)
    window_seconds: int = Field(1, ge=1)
    redis_url: str = "redis://127.0.0.1:6379/0"
    # `redis_url` names one node of a Redis Cluster (each client's counter is one key: it spreads).
    redis_cluster: bool = False
    key_prefix: str = "myshop:router:"
    # How long a request waits for Redis before it passes uncounted.
    redis_timeout: Seconds = Field(0.25, gt=0)


class ClientRateLimit:
    def __init__(self, config: RateLimitConfig) -> None:
        # redis is imported here, not at the top: a router without a rate limit keeps it out of its memory.
        from shared.ratelimit import Limit, RateLimiter
        from shared.redis_client import REDIS_UNAVAILABLE, create_redis

        self.timeout = config.redis_timeout
        self.redis = create_redis(
            config.redis_url,
            cluster=config.redis_cluster,
            socket_timeout=config.redis_timeout,
            socket_connect_timeout=config.redis_timeout,
        )
        self._unreachable = REDIS_UNAVAILABLE
        self.limiter = RateLimiter(self.redis, config.key_prefix)
        self.limit = Limit(attempts=config.requests, window_seconds=config.window_seconds)
        self.outage = Outage(logger, max_backoff=5.0)
        self._next_try = 0.0
        self.limited = 0

    async def admit(self, client: str) -> None:
        """Counts a request of `client`; RequestError (429 RATE_LIMITED, `retry-after`) when it is over its
        limit."""
        retry_after = await self.retry_after(client)
        if retry_after is not None:
            refusal = error(
                f"too many requests; try again in {retry_after} s", RATE_LIMITED, retryAfter=retry_after
            )
            raise RequestError([refusal], 429, ((b"retry-after", str(retry_after).encode()),))

    async def retry_after(self, client: str) -> int | None:
        """Counts a request of `client`: the seconds it must wait when over its limit, else None."""
        if self._next_try and time.monotonic() < self._next_try:
            return None
        try:
            async with asyncio.timeout(self.timeout):
                decision = await self.limiter.hit(client, self.limit)
        except self._unreachable as exc:
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

"""An analytics server of a test's own (its own database and Redis prefix, so its figures are exactly what the
test fed it), the reports' queries, and ways to put events on its streams."""

from __future__ import annotations

import asyncio
import os
import uuid
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from redis.asyncio import Redis
from sqlalchemy import func, pool, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from myshop.testing import scratch_database
from shared.app import create_subgraph_app
from shared.auth import KeyRing, TokenIssuer
from shared.outbox import Event, stream_name
from shared.testing import ServerThread
from subgraphs.analytics.app import definition
from subgraphs.analytics.models import processed_events
from subgraphs.analytics.settings import AnalyticsSettings

SALES = """
query Sales($from: DateTime!, $to: DateTime!) {
  salesSummary(from: $from, to: $to) {
    orders confirmedOrders cancellations refundedOrders failedOrders
    grossRevenue { amount currency } refunds { amount currency } revenue { amount currency }
    averageOrderValue { amount currency }
  }
}"""
TOP = """
query Top($from: DateTime!, $to: DateTime!, $limit: Int) {
  topProducts(from: $from, to: $to, limit: $limit) {
    product { id } unitsSold revenue { amount currency }
  }
}"""
USERS = """
query Users($from: DateTime!, $to: DateTime!) {
  userActivity(from: $from, to: $to) { registrations logins usersLoggedIn activeBuyers }
}"""
STATS = """
query Stats($representations: [_Any!]!) {
  _entities(representations: $representations) {
    ... on Product { id stats { views searches unitsSold revenue { amount currency } } }
  }
}"""
DEAD_LETTERS = """
query { analyticsDeadLetters { id eventId type producer error attempts } }"""
REPLAY_ALL = "mutation { replayAnalyticsDeadLetters }"

EVER = {"from": "2000-01-01T00:00:00+00:00", "to": "2100-01-01T00:00:00+00:00"}


@dataclass
class AnalyticsServer:
    """A running analytics service fed only by the streams under `prefix`."""

    url: str
    prefix: str
    sessions: async_sessionmaker[AsyncSession]
    redis: Redis
    http: httpx.AsyncClient
    admin: str

    async def query(
        self, query: str, variables: dict[str, Any] | None = None, *, token: str | None = None
    ) -> Any:
        """The `data` of a query that must succeed (as an admin unless told)."""
        body = await self.call(query, variables, token=token or self.admin)
        assert not body.get("errors"), body["errors"]
        return body["data"]

    async def call(self, query: str, variables: dict[str, Any] | None = None, *, token: str | None) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = await self.http.post(
            f"{self.url}/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        assert response.status_code == 200, response.text
        return response.json()

    def stream(self, producer: str) -> str:
        return stream_name(self.prefix, producer)

    async def publish(self, *events: Event) -> None:
        """Put events on their producers' streams, as the relay does."""
        for event in events:
            await self.redis.xadd(self.stream(event.producer), event.to_fields())

    async def processed(self) -> int:
        async with self.sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(processed_events)) or 0)

    async def caught_up(self, *producers: str, within: float = 120.0) -> None:
        """Until the group has delivered and acknowledged every entry of these streams."""
        deadline = asyncio.get_running_loop().time() + within
        while True:
            if await self._settled(producers):
                return
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"analytics did not catch up in {within} s")
            await asyncio.sleep(0.1)

    async def _settled(self, producers: tuple[str, ...]) -> bool:
        for producer in producers:
            stream = self.stream(producer)
            if not await self.redis.exists(stream):
                return False
            groups = {_text(info["name"]): info for info in await self.redis.xinfo_groups(stream)}
            group = groups.get("analytics")
            if group is None or group.get("lag") not in (0,) or group["pending"]:
                return False
        return True


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def event(producer: str, type_: str, payload: dict[str, Any], *, at: datetime | None = None) -> Event:
    return Event(
        id=uuid.uuid4(),
        type=type_,
        producer=producer,
        version=1,
        occurred_at=at or datetime.now(UTC),
        payload=payload,
        aggregate_id=None,
    )


def order_event(
    type_: str,
    order_id: str,
    *,
    items: list[tuple[str, int, int]],
    currency: str = "USD",
    user_id: str | None = None,
    at: datetime | None = None,
    **extra: Any,
) -> Event:
    payload = {
        "orderId": order_id,
        "userId": user_id or str(uuid.uuid4()),
        "total": sum(quantity * price for _, quantity, price in items),
        "currency": currency,
        "items": [{"productId": p, "quantity": q, "unitPrice": price} for p, q, price in items],
        **extra,
    }
    return event("orders", type_, payload, at=at)


def money(*pairs: tuple[int, str]) -> list[dict[str, Any]]:
    return [{"amount": amount, "currency": currency} for amount, currency in pairs]


def quick_settings(database_url: str, prefix: str, **overrides: Any) -> AnalyticsSettings:
    """Tokens verified with the run's key ring; a consumer that reacts and retries fast."""
    values: dict[str, Any] = {
        "database_url": database_url,
        "redis_prefix": prefix,
        "jwks_url": "",
        "service_token_url": "",
        "consumer_block_ms": 50,
        "consumer_retry_base_seconds": 0.02,
        "consumer_claim_idle_seconds": 5.0,
        **overrides,
    }
    return AnalyticsSettings(**values)


def run_issuer(stack: Any) -> TokenIssuer:
    """Tokens signed with this run's key ring (what every server of the run verifies)."""
    settings = next(iter(stack.settings.values()))
    keys = KeyRing.load(
        private_key_pem=None, keys_dir=settings.keys_dir, retired_public_pem=None, create=False
    )
    return TokenIssuer(keys, issuer=settings.jwt_issuer, audience=settings.jwt_audience, ttl_seconds=900)


class Launcher:
    """Starts analytics servers on scratch databases under fresh Redis prefixes (inside this run's, so the run
    cleans their keys); `exits` stops them and drops their databases."""

    def __init__(self, exits: AsyncExitStack, admin: str, redis: Redis, http: httpx.AsyncClient) -> None:
        self.exits = exits
        self.admin = admin
        self.redis = redis
        self.http = http

    async def start(self, **overrides: Any) -> AnalyticsServer:
        url = await self.scratch_database("analytics")
        prefix = f"{os.environ['MYSHOP_REDIS_PREFIX']}analytics-{uuid.uuid4().hex[:8]}:"
        server = ServerThread(
            create_subgraph_app(definition, quick_settings(url, prefix, **overrides))
        ).start()
        self.exits.push_async_callback(asyncio.to_thread, server.stop)
        return AnalyticsServer(server.url, prefix, self.sessions(url), self.redis, self.http, self.admin)

    async def scratch_database(self, service: str) -> str:
        return await self.exits.enter_async_context(
            scratch_database(service, os.environ["MYSHOP_POSTGRES_URL"])
        )

    def sessions(self, url: str) -> async_sessionmaker[Any]:
        engine = create_async_engine(url, poolclass=pool.NullPool)
        self.exits.push_async_callback(engine.dispose)
        return async_sessionmaker(engine, expire_on_commit=False)

"""A stand-in orders subgraph for bench/subscriptions.py: `orderUpdates` fanned out from memory to every
subscriber, `emit` publishes events (stamped `changedAt` when published). No database, no Redis, no auth: it
measures the subscription path itself (router vs direct), not orders' feed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from datetime import UTC, datetime
from typing import Any

import strawberry
from strawberry.asgi import GraphQL

_subscribers: set[asyncio.Queue[OrderUpdate]] = set()
_cursor = 0


@strawberry.type
class OrderUpdate:
    cursor: str
    status: str
    changed_at: str


@strawberry.type
class Query:
    @strawberry.field
    def subscribers(self) -> int:
        return len(_subscribers)


@strawberry.type
class Mutation:
    @strawberry.mutation
    async def emit(self, count: int, gap: float = 0.0) -> int:
        global _cursor
        for _ in range(count):
            _cursor += 1
            update = OrderUpdate(
                cursor=str(_cursor), status="CONFIRMED", changed_at=datetime.now(UTC).isoformat()
            )
            for queue in _subscribers:
                queue.put_nowait(update)
            await asyncio.sleep(gap)
        return len(_subscribers)


@strawberry.type
class Subscription:
    @strawberry.subscription
    async def order_updates(self, after: str | None = None) -> AsyncGenerator[OrderUpdate, None]:
        queue: asyncio.Queue[OrderUpdate] = asyncio.Queue()
        _subscribers.add(queue)
        try:
            while True:
                yield await queue.get()
        finally:
            _subscribers.discard(queue)


schema = strawberry.federation.Schema(query=Query, mutation=Mutation, subscription=Subscription)
_graphql = GraphQL(schema)


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            kind = (await receive())["type"].replace("lifespan.", "")
            await send({"type": f"lifespan.{kind}.complete"})
            if kind == "shutdown":
                return
    await _graphql(scope, receive, send)

"""The catalog's events as inventory consumes them in the tests: built as products emits them, applied through
the consumer's own path (`Consumer.apply`: processed-id row and handler in one transaction, real sessions on
the run's inventory database)."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.consumer import Consumer
from shared.outbox import Event
from subgraphs.inventory.events import CONSUMER

VARIANT_FIELDS = "id stock { available reserved onHand } inStock"
ENTITIES = f"""
query Stock($representations: [_Any!]!) {{
  _entities(representations: $representations) {{
    ... on ProductVariant {{ {VARIANT_FIELDS} }}
    ... on Product {{ id stock {{ available reserved onHand }} inStock }}
  }}
}}
"""
ADJUST_VARIANT = f"""
mutation AdjustVariant($variantId: ID!, $delta: Int!, $reason: String!) {{
  adjustVariantStock(variantId: $variantId, delta: $delta, reason: $reason) {{ {VARIANT_FIELDS} }}
}}
"""
RESERVE_LINES = """
mutation Reserve($input: ReserveStockInput!) {
  reserveStock(input: $input) { id status lines { variantId productId quantity } }
}
"""


def moment(seconds: float = 0) -> datetime:
    """A time `seconds` after a fixed start: events of a test are ordered by it, not by when they are sent."""
    return datetime(2026, 12, 6, 12, 0, tzinfo=UTC) + timedelta(seconds=seconds)


def event(type_: str, payload: dict[str, Any], *, at: float = 0) -> Event:
    return Event(
        id=uuid.uuid4(),
        type=type_,
        producer="products",
        version=1,
        occurred_at=moment(at),
        payload=payload,
        aggregate_id=None,
    )


def product_updated(
    product_id: str,
    *,
    active: bool = True,
    change: str = "updated",
    variant_ids: list[str] | None = None,
    at: float = 0,
) -> Event:
    payload: dict[str, Any] = {
        "productId": product_id,
        "sku": "TST-1",
        "name": "Test",
        "price": {"amount": 1000, "currency": "USD"},
        "previousPrice": None,
        "category": "Tests",
        "active": active,
        "change": change,
    }
    if variant_ids is not None:
        payload["variantIds"] = variant_ids
    return event("ProductUpdated", payload, at=at)


def variant_event(
    type_: str,
    variant_id: str,
    product_id: str,
    *,
    active: bool = True,
    product_active: bool = True,
    at: float = 0,
) -> Event:
    change = {"VariantCreated": "created", "VariantUpdated": "updated", "VariantArchived": "archived"}[type_]
    payload = {
        "variantId": variant_id,
        "productId": product_id,
        "sku": f"SKU-{variant_id[:8]}".upper(),
        "price": {"amount": 1000, "currency": "USD"},
        "weight": None,
        "optionValues": {"Size": "M"},
        "active": active,
        "productActive": product_active,
        "change": change,
    }
    return event(type_, payload, at=at)


class CatalogFeed:
    """Applies catalog events to the run's inventory database as inventory's consumer does."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], redis: Redis) -> None:
        self.consumer = Consumer(CONSUMER, sessions, redis, os.environ["MYSHOP_REDIS_PREFIX"])

    async def apply(self, *events: Event) -> list[bool]:
        """Each event's handler in its own transaction; whether it ran (False: processed before)."""
        applied = []
        for one in events:
            handler = CONSUMER.handler_for("products", one.type)
            assert handler is not None, one.type
            applied.append(await self.consumer.apply(one, handler))
        return applied

    async def product_with_variants(self, count: int, *, at: float = 0) -> tuple[str, list[str]]:
        """A new product with `count` variants (none sharing its id), as the catalog announces it."""
        product_id = str(uuid.uuid4())
        variant_ids = sorted(str(uuid.uuid4()) for _ in range(count))
        await self.apply(
            product_updated(product_id, change="created", variant_ids=variant_ids, at=at),
            *(variant_event("VariantCreated", vid, product_id, at=at) for vid in variant_ids),
        )
        return product_id, variant_ids

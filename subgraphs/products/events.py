"""The events products emits, written to its outbox (`models.outbox`) in the change's own transaction and
published by the relay on the stream `<redis_prefix>events:products`.

This module names them, so emitters and consumers (analytics, notifications) agree on them. The demo seed
inserts its rows directly and emits nothing. products consumes its own `ProductUpdated` too: each one drops
the product's entry from the Redis cache (`cache.py`), whichever replica or script made the change.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession

from shared.outbox import Event
from shared.subscriptions import ConsumerSpec, Subscription
from subgraphs.products.cache import ProductCache
from subgraphs.products.models import processed_events


class ProductEvent(enum.StrEnum):
    # A product was created, changed or archived (`ProductService`; an update that changes nothing emits
    # nothing): {productId, sku, name, price: {amount, currency}, previousPrice (the price before, when this
    # change moved it, else null), category, active, change: ProductChange}. Notifications tells the users
    # watching it (price drop, back in the catalog); analytics keeps names.
    PRODUCT_UPDATED = "ProductUpdated"
    # Products read by id (`Query.product`), counted in memory and written in batches (`activity.py`):
    # {productId, userId?, count}. Feeds `Product.stats.views` in analytics.
    PRODUCT_VIEWED = "ProductViewed"
    # A search of the catalog (batched likewise): {search, category?, resultCount, productIds (first page),
    # userId?}. Feeds `Product.stats.searches`.
    PRODUCT_SEARCHED = "ProductSearched"


class ProductChange(enum.StrEnum):
    """What a `ProductUpdated` reports (its `change`). A restore (active again) is an update."""

    CREATED = "created"
    UPDATED = "updated"
    ARCHIVED = "archived"


EMITTED: tuple[ProductEvent, ...] = tuple(ProductEvent)


# The consumer group of products on its own stream (its dead letters: `<prefix>deadletter:products`).
GROUP = "products"


def consumer_spec(cache: ProductCache) -> ConsumerSpec:
    """What products consumes: its own `ProductUpdated`, to invalidate the cache. Redis being down while
    invalidating is an outage for the consumer (the event stays pending and is retried), not a failure."""

    async def product_updated(session: AsyncSession, event: Event) -> None:
        await cache.invalidate([event.payload.get("productId") or event.aggregate_id], source="event")

    handlers: dict[str, Callable[[AsyncSession, Event], Awaitable[None]]] = {
        ProductEvent.PRODUCT_UPDATED: product_updated
    }
    return ConsumerSpec(
        group=GROUP, subscriptions=[Subscription("products", handlers)], processed=processed_events
    )

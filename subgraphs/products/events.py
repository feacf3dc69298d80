"""The events products emits, written to its outbox (`models.outbox`) in the change's own transaction and
published by the relay on the stream `<redis_prefix>events:products`.

This module names them, so emitters and consumers (analytics, notifications, inventory, orders) agree on
them. The demo seed inserts its rows directly and emits nothing. products consumes its own `ProductUpdated`
too: each one drops the product's entry from the Redis cache (`cache.py`), whichever replica or script made
the change.

products also consumes inventory's `StockChanged` (stream `<prefix>events:inventory`): it keeps each variant's
available units for the catalog's "in stock" filter and facets (`search.py` documents the staleness bound).
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from shared.ids import uuid_or_none
from shared.outbox import Event
from shared.subscriptions import Batched, ConsumerSpec, Subscription
from subgraphs.products import availability_repository
from subgraphs.products.cache import ProductCache
from subgraphs.products.models import outbox, processed_events
from subgraphs.products.repository import VariantRecord


class ProductEvent(enum.StrEnum):
    # A product was created, changed or archived (`ProductService`; an update that changes nothing emits
    # nothing; `setProductOptions` is an update): {productId, sku, name, price: {amount, currency},
    # previousPrice (the price before, when this change moved it, else null), category, active, variantIds
    # (every variant of the product, archived ones included), change: ProductChange}. Notifications tells the
    # users watching it (price drop, back in the catalog); analytics keeps names; inventory learns from
    # `active` + `variantIds` whether the product's variants may be sold.
    PRODUCT_UPDATED = "ProductUpdated"
    # A variant was created (`createProduct`, whose variant sharing the product's id included, and
    # `createProductVariant`), changed, or archived. Payload (`variant_payload`): {variantId, productId, sku,
    # price: {amount, currency} (effective: its own, else the product's), weight (effective, or null),
    # optionValues: {name: value}, active (the variant's own flag), productActive, change: ProductChange}.
    # `VariantUpdated` is also emitted for every variant whose *effective* values a product change moved: the
    # product's price or weight for variants inheriting it, `productActive` when the product is archived or
    # restored, option values rewritten by `setProductOptions`. So a consumer of variant events alone knows
    # every variant's sellability (`active and productActive`) and price; it need not read `ProductUpdated`.
    # Restoring a variant is a `VariantUpdated` with active true. Inventory creates and retires stock rows
    # from them; search keeps its facets.
    VARIANT_CREATED = "VariantCreated"
    VARIANT_UPDATED = "VariantUpdated"
    VARIANT_ARCHIVED = "VariantArchived"
    # Products read by id (`Query.product`), counted in memory and written in batches (`activity.py`):
    # {productId, userId?, count}. Feeds `Product.stats.views` in analytics.
    PRODUCT_VIEWED = "ProductViewed"
    # A search of the catalog (batched likewise): {search, category?, resultCount, productIds (first page),
    # userId?}. Feeds `Product.stats.searches`.
    PRODUCT_SEARCHED = "ProductSearched"


class ProductChange(enum.StrEnum):
    """What a `ProductUpdated` or a variant event reports (its `change`). A restore (active again) is an
    update."""

    CREATED = "created"
    UPDATED = "updated"
    ARCHIVED = "archived"


EMITTED: tuple[ProductEvent, ...] = tuple(ProductEvent)

_VARIANT_EVENTS = {
    ProductChange.CREATED: ProductEvent.VARIANT_CREATED,
    ProductChange.UPDATED: ProductEvent.VARIANT_UPDATED,
    ProductChange.ARCHIVED: ProductEvent.VARIANT_ARCHIVED,
}


def variant_payload(record: VariantRecord, change: ProductChange) -> dict[str, Any]:
    """The payload of a variant event: the variant as reads see it (effective price and weight)."""
    return {
        "variantId": record.id,
        "productId": record.product_id,
        "sku": record.sku,
        "price": {"amount": record.price_amount, "currency": record.price_currency},
        "weight": record.weight_grams,
        "optionValues": dict(record.option_values),
        "active": record.active,
        "productActive": record.product_active,
        "change": change,
    }


async def emit_variant_events(
    session: AsyncSession, records: Iterable[VariantRecord], change: ProductChange
) -> None:
    """One `Variant<change>` per record, in the change's transaction (aggregate: the variant)."""
    for record in records:
        await outbox.emit(
            session, _VARIANT_EVENTS[change], variant_payload(record, change), aggregate_id=record.id
        )


# inventory's events products consumes (the names inventory emits them under; no import across subgraphs).
STOCK_CHANGED = "StockChanged"


def _availability(event: Event) -> tuple[uuid.UUID, int]:
    """A `StockChanged`'s variant and available units: {variantId, productId, available, ...}; an event from
    before variants names the variant by `productId` (a single-variant product's variant shares its id). A
    payload without a usable id or count is a producer's bug: it fails, and after retries waits in the dead
    letters."""
    payload = event.payload
    variant_id = uuid_or_none(payload.get("variantId") or payload.get("productId"))
    available = payload.get("available")
    if variant_id is None or type(available) is not int:
        raise ValueError(f"StockChanged {event.id} without a variant id or an integer `available`")
    return variant_id, available


async def stock_changed_many(session: AsyncSession, events: Sequence[Event]) -> None:
    """Keep each variant's available units as of its newest event (a level of a later moment kept already
    stays). A variant products does not know (yet, or any more) is no error: nothing to keep. A burst of
    changes (two per order: reserved, then confirmed) is one statement."""
    levels: dict[uuid.UUID, tuple[int, datetime]] = {}
    for event in events:
        variant_id, available = _availability(event)
        kept = levels.get(variant_id)
        if kept is None or kept[1] <= event.occurred_at:  # one moment twice: the later in the stream
            levels[variant_id] = (available, event.occurred_at)
    await availability_repository.record_availabilities(session, levels)


# One event or a burst of them (`shared.consumer` applies a run of them in one transaction).
stock_changed = Batched(stock_changed_many)


# The consumer group of products on its own stream (its dead letters: `<prefix>deadletter:products`).
GROUP = "products"


def consumer_spec(cache: ProductCache) -> ConsumerSpec:
    """What products consumes: its own `ProductUpdated`, to invalidate the cache (Redis being down while
    invalidating is an outage for the consumer: the event stays pending and is retried, not a failure), and
    inventory's `StockChanged`, to keep availability."""

    async def product_updated(session: AsyncSession, event: Event) -> None:
        await cache.invalidate([event.payload.get("productId") or event.aggregate_id], source="event")

    handlers: dict[str, Callable[[AsyncSession, Event], Awaitable[None]]] = {
        ProductEvent.PRODUCT_UPDATED: product_updated
    }
    return ConsumerSpec(
        group=GROUP,
        subscriptions=[
            Subscription("products", handlers),
            Subscription("inventory", {STOCK_CHANGED: stock_changed}),
        ],
        processed=processed_events,
    )

"""The events inventory emits, written to its outbox in the transaction of the stock change they describe, and
the catalog events it consumes (products' stream), which keep its stock rows in step with the catalog.

Consumed (group `inventory` on `events:products`; each event applied once, `processed_events`):

- `ProductUpdated` {productId, active, change, variantIds?}: a row for every variant it names (none on hand;
  an event older than variants names none: then the product's own id, its single variant's), and the product's
  `active` on every row of the product, so archiving a product stops its variants' reservations and restoring
  it lets them again.
- `VariantCreated`, `VariantUpdated`, `VariantArchived` {variantId, productId, active, productActive}: the
  variant's row (made if new: events may come before or after any adjustment), its product and both flags.

Order: each flag carries the `occurred_at` of the event that set it, and an older event never overwrites a
newer one, so the flags end as the newest event says whatever order the consumer handles them in (a retry is
overtaken by later events). The product id of a row is always taken from the event (a variant never changes
product). Not order-tolerant: a `ProductUpdated` older than variant ids in payloads (it names none) reaches
only the rows inventory already has for the product, so a variant whose row comes later (its own event, with
its own `productActive`) keeps what that event said.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from shared.outbox import Event
from shared.subscriptions import ConsumerSpec, Subscription
from subgraphs.inventory import catalog_repository
from subgraphs.inventory.catalog_repository import CatalogState
from subgraphs.inventory.models import outbox, processed_events
from subgraphs.inventory.repository import StockLevel


class InventoryEvent(enum.StrEnum):
    # A variant's stock row changed: {variantId, productId, available, reserved, onHand, previousAvailable,
    # reason}, once per variant per change; `productId` is the variant's product as inventory knows it (the
    # variant's own id for a single-variant product older than variants). Analytics keeps stock levels from
    # it, products the availability its search filters on, notifications the back-in-stock mails.
    STOCK_CHANGED = "StockChanged"
    # A variant's available units fell below the threshold: {variantId, productId, available, threshold}.
    # Emitted on the crossing only (from >= threshold to < threshold), not on every change below it.
    STOCK_LOW = "StockLow"


EMITTED: tuple[InventoryEvent, ...] = tuple(InventoryEvent)


async def stock_changed(
    session: AsyncSession, before_available: int, after: StockLevel, reason: str, *, low_threshold: int
) -> None:
    """Emit `StockChanged` for one changed stock row, and `StockLow` when it crossed the threshold."""
    for event in stock_change_events(before_available, after, reason, low_threshold=low_threshold):
        await outbox.write(session, event)


def stock_change_events(
    before_available: int, after: StockLevel, reason: str, *, low_threshold: int
) -> list[Event]:
    """`StockChanged` for one changed stock row, and `StockLow` when it crossed the threshold: made, not
    written (`stock_changed` writes them; a change's own statement may write them with it)."""
    ids = {"variantId": str(after.variant_id), "productId": str(after.product_id)}
    changed = outbox.event(
        InventoryEvent.STOCK_CHANGED,
        {
            **ids,
            "available": after.available,
            "reserved": after.reserved,
            "onHand": after.on_hand,
            # Consumers see a crossing (notifications: back in stock when it was 0) without keeping state.
            "previousAvailable": before_available,
            "reason": reason,
        },
        aggregate_id=after.variant_id,
    )
    if before_available >= low_threshold > after.available:
        low = {**ids, "available": after.available, "threshold": low_threshold}
        return [changed, outbox.event(InventoryEvent.STOCK_LOW, low, aggregate_id=after.variant_id)]
    return [changed]


# --- consumed: the catalog ------------------------------------------------------------------------------

# The consumer group of inventory (its dead letters: `<prefix>deadletter:inventory`).
GROUP = "inventory"
PRODUCT_UPDATED = "ProductUpdated"
VARIANT_CREATED = "VariantCreated"
VARIANT_UPDATED = "VariantUpdated"
VARIANT_ARCHIVED = "VariantArchived"
# More ids than any product has variants: a payload past it is not the catalog's (dead-lettered).
MAX_VARIANT_IDS = 10_000


def _id(payload: dict[str, Any], name: str) -> uuid.UUID:
    # A payload without it (or with something else) raises: retried, then dead-lettered for an admin.
    return uuid.UUID(str(payload[name]))


def _flag(payload: dict[str, Any], name: str) -> bool | None:
    value = payload.get(name)
    return value if isinstance(value, bool) else None


async def product_updated(session: AsyncSession, event: Event) -> None:
    payload = event.payload
    product_id = _id(payload, "productId")
    active = _flag(payload, "active")
    if active is None and payload.get("change") == "archived":
        active = False
    raw_ids = payload.get("variantIds")
    if raw_ids is None:  # an event from before variants: the product's single variant shares its id
        raw_ids = [product_id]
    if not isinstance(raw_ids, list) or len(raw_ids) > MAX_VARIANT_IDS:
        raise ValueError(f"variantIds is not a list of at most {MAX_VARIANT_IDS} ids")
    variant_ids = sorted({uuid.UUID(str(raw)) for raw in raw_ids})
    await catalog_repository.lock_product_rows(session, product_id, variant_ids)
    await catalog_repository.apply_catalog(
        session,
        [CatalogState(vid, product_id, event.occurred_at, product_active=active) for vid in variant_ids],
    )
    if active is not None:
        await catalog_repository.set_product_active(session, product_id, active, event.occurred_at)


async def variant_changed(session: AsyncSession, event: Event) -> None:
    payload = event.payload
    active = _flag(payload, "active")
    if active is None and (event.type == VARIANT_ARCHIVED or payload.get("change") == "archived"):
        active = False
    state = CatalogState(
        variant_id=_id(payload, "variantId"),
        product_id=_id(payload, "productId"),
        at=event.occurred_at,
        variant_active=active,
        product_active=_flag(payload, "productActive"),
    )
    await catalog_repository.apply_catalog(session, [state])


HANDLERS: dict[str, Callable[[AsyncSession, Event], Awaitable[None]]] = {
    PRODUCT_UPDATED: product_updated,
    VARIANT_CREATED: variant_changed,
    VARIANT_UPDATED: variant_changed,
    VARIANT_ARCHIVED: variant_changed,
}

CONSUMER = ConsumerSpec(
    group=GROUP, subscriptions=[Subscription("products", HANDLERS)], processed=processed_events
)

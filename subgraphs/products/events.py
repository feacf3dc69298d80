"""The events products emits, written to its outbox (`models.outbox`) in the change's own transaction and
published by the relay on the stream `<redis_prefix>events:products`.

This module names them, so emitters and consumers (analytics, notifications) agree on them. The demo seed
inserts its rows directly and emits nothing.
"""

from __future__ import annotations

import enum


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

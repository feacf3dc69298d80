"""The events products emits (written to the outbox in the change's own transaction once the outbox lands).

Until then this module names them, so emitters and consumers (analytics, notifications) agree on them.
"""

from __future__ import annotations

import enum


class ProductEvent(enum.StrEnum):
    # A product was created, changed, archived or restored: {productId, sku, name, price, category, active}.
    # Notifications tells the users watching it (price drop, back in the catalog); analytics keeps names.
    PRODUCT_UPDATED = "ProductUpdated"
    # Someone read one product by id: {productId, userId?}. Feeds `Product.stats.views` in analytics.
    PRODUCT_VIEWED = "ProductViewed"
    # Someone searched the catalog: {search, category?, resultCount, userId?}. Feeds `Product.stats.searches`.
    PRODUCT_SEARCHED = "ProductSearched"


EMITTED: tuple[ProductEvent, ...] = tuple(ProductEvent)

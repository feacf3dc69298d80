"""The demo data of `myshop up` and `myshop seed`: accounts, a catalog and its stock, shipping zones and
methods, one module per service that has some. Demo data spans services (inventory stocks the catalog's
products by id), so it lives here, above the subgraphs, and no subgraph imports another for it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession

Seed = Callable[[AsyncSession], Awaitable[list[str]]]


def _own_seed_of(service: str) -> Seed | None:
    """The demo data of `service` itself (before products had variants)."""
    # Imported on demand: each pulls in its service's repository and models.
    if service == "users":
        from myshop.demo import users

        return users.seed
    if service == "products":
        from myshop.demo import products

        return products.seed_with_images
    if service == "inventory":
        from myshop.demo import inventory

        return inventory.seed
    if service == "shipping":
        from myshop.demo import shipping

        return shipping.seed
    if service == "orders":
        from myshop.demo import pricing

        return pricing.seed
    return None


def seed_of(service: str) -> Seed | None:
    """What loads `service`'s demo data (it flushes; the caller commits); None when it has none. products
    and inventory also load the demo products sold in options (`catalog_variants.py`), their variants'
    stock."""
    own = _own_seed_of(service)
    if own is None or service not in ("products", "inventory"):
        return own
    if service == "products":
        from myshop.demo import variants

        extra: Seed = variants.seed
    else:
        from myshop.demo import inventory

        extra = inventory.seed_variant_stock

    async def both(session: AsyncSession) -> list[str]:
        return [*await own(session), *await extra(session)]

    return both
